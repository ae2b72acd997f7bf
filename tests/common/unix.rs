//! Helpers for the Unix-domain socket tests: a fresh temporary directory per test (no tempfile
//! crate), removed with everything in it when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use event::{UnixServerSocket, UnixSocket};

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
