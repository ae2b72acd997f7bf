//! `SO_PEERCRED`: who is at the other end of a Unix-domain socket. (std's
//! `UnixStream::peer_cred` is unstable and socket2 has no getter, so this is the one
//! `getsockopt` of the crate made by hand.)

use std::io;
use std::os::fd::AsFd;

/// The process, user and group of a Unix-domain socket's peer, as the kernel recorded them when
/// the connection was made (`connect`, or `socketpair`).
pub(crate) fn peer_cred(fd: &impl AsFd) -> io::Result<(i32, u32, u32)> {
    use std::os::fd::AsRawFd;
    let fd = fd.as_fd();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `fd` is a descriptor borrowed for the call; `cred` is a valid, writable
        // `ucred` and `len` holds its size, as SO_PEERCRED requires; the kernel writes at most
        // `len` bytes and stores the length it wrote back in `len`.
        let r = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((cred.pid, cred.uid, cred.gid))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd.as_raw_fd();
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "SO_PEERCRED is Linux's; this platform is not supported yet",
        ))
    }
}
