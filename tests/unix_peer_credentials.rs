//! `SO_PEERCRED`: both ends of a connection, and of a socket pair, see this process's pid, uid
//! and gid (the peer is this process).

mod common;

use common::unix::{TempDir, unix_pair};
use event::UnixSocket;

/// This process's pid, and its effective uid and gid (the owner of its /proc directory).
fn ours() -> (i32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").unwrap();
    (std::process::id() as i32, me.uid(), me.gid())
}

#[test]
fn accepted_and_connected_sockets_report_this_process() {
    let dir = TempDir::new("cred");
    let server = UnixSocket::listen(dir.join("c.sock")).unwrap();
    common::run(async {
        let (client, accepted) = unix_pair(&server).await;
        for s in [&client, &accepted] {
            let c = s.peer_credentials().unwrap();
            assert_eq!((c.pid, c.uid, c.gid), ours());
        }
    });
}

#[test]
fn a_socket_pair_reports_this_process() {
    common::run(async {
        let (a, b) = UnixSocket::pair().unwrap();
        let c = a.peer_credentials().unwrap();
        assert_eq!((c.pid, c.uid, c.gid), ours());
        assert_eq!(b.peer_credentials().unwrap(), c);
    });
}

#[test]
fn a_python_client_is_seen_with_its_own_pid() {
    let dir = TempDir::new("credpy");
    let path = dir.join("py.sock");
    let server = UnixSocket::listen(&path).unwrap();
    let script = "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.recv(1)\n";
    let Ok(mut child) = std::process::Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .spawn()
    else {
        println!("note: skipped, python3 is not installed");
        return;
    };
    common::run(async {
        let peer = server.accept().await.unwrap();
        assert_eq!(peer.peer_credentials().unwrap().pid, child.id() as i32);
        peer.write(b"x").await.unwrap();
    });
    assert!(child.wait().unwrap().success());
}
