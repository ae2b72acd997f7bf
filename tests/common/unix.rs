//! Helpers for the Unix-domain socket tests: a fresh temporary directory per test (no tempfile
//! crate), removed with everything in it when dropped; a directory this user may not write,
//! and the checks of the errors that bad paths get.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use event::{SocketError, UnixServerSocket, UnixSocket};

/// A directory under the system's temporary directory, unique to this process and call.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ev-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test's temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A directory `locked` inside a test's directory that this user may read but not write
/// (mode 0500); writable again when dropped, so that the test's directory can be removed.
pub struct LockedDir(PathBuf);

impl LockedDir {
    pub fn new(dir: &TempDir) -> LockedDir {
        let locked = dir.join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        LockedDir(locked)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for LockedDir {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o700));
    }
}

/// `bound` is a bind in a `LockedDir`: it failed with `PermissionDenied` and says that the user
/// may not create a file there, or (root writes anywhere) it succeeded and the test says so.
pub fn assert_may_not_create<T>(bound: Result<T, SocketError>) {
    match bound {
        Err(err) => {
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
            assert!(
                err.to_string().contains("may not create a file in"),
                "{err}"
            );
        }
        Ok(_) => println!("note: running as root, the directory's permissions do not apply"),
    }
}

/// `err` is a bind's in the directory `missing`, which does not exist: it says to create it.
pub fn assert_missing_directory(err: &SocketError, missing: &Path) {
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let want = format!(
        "the directory {} does not exist: create it first",
        missing.display()
    );
    assert!(err.to_string().contains(&want), "{err}");
}

/// An abstract name unique to this process and call.
pub fn abstract_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("@event-test-{tag}-{}-{n}", std::process::id())
}

/// A connected pair through a listener at `path`: (client, accepted).
pub async fn unix_pair(server: &UnixServerSocket) -> (UnixSocket, UnixSocket) {
    let addr = server.local_address();
    let (client, accepted) = super::join(UnixSocket::connect(addr), server.accept()).await;
    (client.unwrap(), accepted.unwrap())
}

/// Spawns an echo server on the current loop for `server`.
pub fn spawn_unix_echo(server: UnixServerSocket) {
    event::spawn(async move {
        while let Ok(client) = server.accept().await {
            event::spawn(async move {
                while let Ok(bytes) = client.read(64 * 1024).await {
                    if client.write(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// Reads exactly `n` bytes.
pub async fn read_exact(socket: &UnixSocket, n: usize) -> Result<Vec<u8>, event::SocketError> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(socket.read(n - out.len()).await?);
    }
    Ok(out)
}
