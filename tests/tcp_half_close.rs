mod common;

use event::{Socket, SocketError};

#[test]
fn shutdown_write_delivers_eof_and_the_peer_can_still_reply() {
    common::run(async {
        let addr = common::spawn_echo_server();
        let client = Socket::connect(addr).await.unwrap();
        let data = common::pattern(300_000, 9);
        client.write(&data).await.unwrap();
        client.shutdown_write().unwrap();
        // The echo server still sends everything back after our half-close...
        let got = common::read_exact(&client, data.len()).await.unwrap();
        assert!(got == data);
        // ...then sees our EOF, ends, and we see its EOF.
        assert!(matches!(
            client.read(10).await,
            Err(SocketError::ConnectionClosed)
        ));
    });
}
