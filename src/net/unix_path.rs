//! How a Unix-domain socket takes its address (listeners and datagram sockets alike): clear
//! errors, the stale-file check and its explicit replacement, and the socket file the socket
//! removes when it closes (only if the path still names the file it made).

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, Type};

use super::unix::unix_error;
use super::{SocketError, UnixAddress};

/// What a socket does about its socket file: replace a stale one at bind, remove its own when
/// it closes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilePolicy {
    pub(crate) replace_stale: bool,
    pub(crate) remove_on_close: bool,
}

impl Default for FilePolicy {
    /// A stale file is an error; the socket's own file is removed when it closes.
    fn default() -> FilePolicy {
        FilePolicy {
            replace_stale: false,
            remove_on_close: true,
        }
    }
}

/// The builders of [`FilePolicy`] on an options type with a `file: FilePolicy` field (its
/// public docs once, for every Unix-domain options type).
macro_rules! file_policy_builders {
    () => {
        /// Whether a stale socket file at the path (one nobody has open: a connect to it is
        /// refused) is replaced. Off by default: then it is
        /// [`SocketError::StaleSocketFile`](crate::SocketError::StaleSocketFile). On, the file
        /// is removed and bound again only after that check; a file that is not a socket, or
        /// one a process listens on or is bound to, is never removed. (The check is a connect:
        /// a live listener there accepts one connection that closes at once, as from a health
        /// check.)
        pub fn replace_stale(mut self, replace: bool) -> Self {
            self.file.replace_stale = replace;
            self
        }

        /// Whether closing (or dropping) the socket removes its socket file (default: yes, if
        /// the path still names the file this socket created; std's sockets leave it).
        pub fn remove_on_close(mut self, remove: bool) -> Self {
            self.file.remove_on_close = remove;
            self
        }
    };
}
pub(crate) use file_policy_builders;

impl FilePolicy {
    /// A socket of type `ty` (non-blocking, close-on-exec) bound to `address`, and the file to
    /// remove when it closes.
    pub(crate) fn bind(
        &self,
        ty: Type,
        address: &UnixAddress,
    ) -> Result<(socket2::Socket, Option<SocketFile>), SocketError> {
        let sockaddr = address.to_sockaddr()?;
        let socket = match bind(ty, address, &sockaddr) {
            Err(SocketError::Unix { source, .. })
                if source.raw_os_error() == Some(libc::EADDRINUSE) =>
            {
                self.bind_over_existing(ty, address, &sockaddr, source)?
            }
            other => other?,
        };
        let file = match address {
            UnixAddress::Path(path) if self.remove_on_close => SocketFile::of(path),
            _ => None,
        };
        Ok((socket, file))
    }

    /// The path exists: a live socket's (the error stands), a stale socket file (an error
    /// unless `replace_stale`), or not a socket at all (never touched).
    #[cold]
    fn bind_over_existing(
        &self,
        ty: Type,
        address: &UnixAddress,
        sockaddr: &socket2::SockAddr,
        in_use: io::Error,
    ) -> Result<socket2::Socket, SocketError> {
        let UnixAddress::Path(path) = address else {
            return Err(unix_error("bind", address, in_use));
        };
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(unix_error(
                    "bind",
                    address,
                    io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "the path exists and is not a socket file: choose another path (it was left alone)",
                    ),
                ));
            }
            Ok(_) => {}
            // Gone meanwhile: try once more.
            Err(_) => return bind(ty, address, sockaddr),
        }
        if !is_stale(sockaddr) {
            return Err(unix_error("bind", address, in_use));
        }
        if !self.replace_stale {
            return Err(SocketError::StaleSocketFile { path: path.clone() });
        }
        crate::trace::event!(info, path = %path.display(), "replacing a stale socket file");
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(unix_error("remove stale socket file", address, e)),
        }
        bind(ty, address, sockaddr)
    }
}

fn bind(
    ty: Type,
    address: &UnixAddress,
    sockaddr: &socket2::SockAddr,
) -> Result<socket2::Socket, SocketError> {
    let socket = socket2::Socket::new(Domain::UNIX, ty.nonblocking().cloexec(), None)
        .map_err(|e| unix_error("socket", address, e))?;
    socket
        .bind(sockaddr)
        .map_err(|e| unix_error("bind", address, e))?;
    Ok(socket)
}

/// Whether no socket has `sockaddr` open: a non-blocking stream connect to it is refused (a
/// full backlog, `EAGAIN`, means a live listener; a live datagram socket answers a stream
/// connect with `EPROTOTYPE`).
fn is_stale(sockaddr: &socket2::SockAddr) -> bool {
    let Ok(probe) = socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)
    else {
        return false;
    };
    matches!(probe.connect(sockaddr), Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED))
}

/// The socket file a socket created, removed when the socket closes if the path still names
/// that file (same device and inode: a file another process bound since is left alone).
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    fn of(path: &Path) -> Option<SocketFile> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(SocketFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && meta.dev() == self.dev
            && meta.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
