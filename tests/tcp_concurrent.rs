mod common;

use event::Socket;

#[test]
fn thousand_concurrent_echo_clients_on_one_loop() {
    common::run(async {
        let addr = common::spawn_echo_server();
        let clients: Vec<_> = (0..1000u64)
            .map(|i| {
                event::spawn(async move {
                    let socket = Socket::connect(addr).await?;
                    for round in 0..5 {
                        let msg = common::pattern(64 + (i as usize % 512), i * 10 + round);
                        socket.write(&msg).await?;
                        let back = common::read_exact(&socket, msg.len()).await?;
                        assert_eq!(back, msg, "client {i} round {round}");
                    }
                    Ok::<_, event::SocketError>(())
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap().unwrap();
        }
    });
}
