//! `UnixAddress`: where a Unix-domain socket lives (a path, or a Linux abstract name).

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::SocketError;

/// The most bytes a path (or an abstract name) takes in `sun_path` (108 bytes on Linux, one of
/// them the path's terminating NUL or the abstract name's leading one).
pub(crate) const MAX_UNIX_PATH: usize = 107;

/// The address of a Unix-domain socket: a path in the file system, a name in Linux's abstract
/// namespace (no file: the name disappears with the last socket that has it), or none (the
/// client side of most connections, and socket pairs).
///
/// Text converts with `From`: a leading `'@'` names the abstract namespace (as `ss` and
/// `socat` write it), anything else is a path.
///
/// ```
/// use event::UnixAddress;
///
/// let path = UnixAddress::from("/run/app.sock");
/// assert_eq!(path.as_path(), Some(std::path::Path::new("/run/app.sock")));
/// let name = UnixAddress::from("@app");
/// assert_eq!(name, UnixAddress::abstract_name("app"));
/// assert_eq!(name.to_string(), "@app");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum UnixAddress {
    /// A socket file.
    Path(PathBuf),
    /// A name in the Linux abstract namespace (the bytes after the leading NUL).
    Abstract(Vec<u8>),
    /// No address (an unbound client, or one end of a socket pair).
    Unnamed,
}

impl UnixAddress {
    /// A socket file at `path` (never read as an abstract name, even if it starts with `'@'`).
    pub fn path(path: impl Into<PathBuf>) -> UnixAddress {
        UnixAddress::Path(path.into())
    }

    /// A name in the Linux abstract namespace.
    pub fn abstract_name(name: impl AsRef<[u8]>) -> UnixAddress {
        UnixAddress::Abstract(name.as_ref().to_vec())
    }

    /// The path, if this is a socket file.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            UnixAddress::Path(p) => Some(p),
            _ => None,
        }
    }

    /// The abstract name, if this is one.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match self {
            UnixAddress::Abstract(n) => Some(n),
            _ => None,
        }
    }

    /// The kernel's form, or [`SocketError::UnixPathTooLong`] if it does not fit `sun_path`.
    pub(crate) fn to_sockaddr(&self) -> Result<socket2::SockAddr, SocketError> {
        let bytes: Vec<u8> = match self {
            UnixAddress::Path(p) => p.as_os_str().as_bytes().to_vec(),
            UnixAddress::Abstract(n) => [&[0][..], n].concat(),
            UnixAddress::Unnamed => {
                return Err(SocketError::InvalidAddress {
                    input: String::new(),
                    reason: "an unnamed Unix address cannot be bound or connected to",
                });
            }
        };
        let len = match self {
            UnixAddress::Abstract(n) => n.len(),
            _ => bytes.len(),
        };
        if len > MAX_UNIX_PATH || bytes.is_empty() {
            if bytes.is_empty() {
                return Err(SocketError::InvalidAddress {
                    input: String::new(),
                    reason: "an empty Unix socket path",
                });
            }
            return Err(SocketError::UnixPathTooLong {
                address: self.to_string(),
                len,
                max: MAX_UNIX_PATH,
            });
        }
        socket2::SockAddr::unix(OsStr::from_bytes(&bytes)).map_err(|_| {
            SocketError::UnixPathTooLong {
                address: self.to_string(),
                len,
                max: MAX_UNIX_PATH,
            }
        })
    }

    /// The kernel's form read back (a destination named in an error).
    pub(crate) fn from_sockaddr(addr: &socket2::SockAddr) -> UnixAddress {
        if let Some(p) = addr.as_pathname() {
            return UnixAddress::Path(p.to_path_buf());
        }
        match addr.as_abstract_namespace() {
            Some(name) => UnixAddress::Abstract(name.to_vec()),
            None => UnixAddress::Unnamed,
        }
    }

    /// The form `std` and mio give (`getsockname`, `getpeername`, `accept`).
    pub(crate) fn from_std(addr: &std::os::unix::net::SocketAddr) -> UnixAddress {
        if let Some(p) = addr.as_pathname() {
            return UnixAddress::Path(p.to_path_buf());
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            if let Some(n) = addr.as_abstract_name() {
                return UnixAddress::Abstract(n.to_vec());
            }
        }
        UnixAddress::Unnamed
    }
}

impl From<&str> for UnixAddress {
    /// `"@name"`: an abstract name; anything else: a path.
    fn from(s: &str) -> UnixAddress {
        match s.strip_prefix('@') {
            Some(name) => UnixAddress::abstract_name(name),
            None => UnixAddress::path(s),
        }
    }
}

impl From<String> for UnixAddress {
    fn from(s: String) -> UnixAddress {
        UnixAddress::from(s.as_str())
    }
}

impl From<&String> for UnixAddress {
    fn from(s: &String) -> UnixAddress {
        UnixAddress::from(s.as_str())
    }
}

impl From<&Path> for UnixAddress {
    fn from(p: &Path) -> UnixAddress {
        UnixAddress::path(p)
    }
}

impl From<PathBuf> for UnixAddress {
    fn from(p: PathBuf) -> UnixAddress {
        UnixAddress::Path(p)
    }
}

impl From<&PathBuf> for UnixAddress {
    fn from(p: &PathBuf) -> UnixAddress {
        UnixAddress::path(p)
    }
}

impl From<&UnixAddress> for UnixAddress {
    fn from(a: &UnixAddress) -> UnixAddress {
        a.clone()
    }
}

impl fmt::Display for UnixAddress {
    /// The path, `@name`, or `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddress::Path(p) => write!(f, "{}", p.display()),
            UnixAddress::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
            UnixAddress::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

impl fmt::Debug for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
