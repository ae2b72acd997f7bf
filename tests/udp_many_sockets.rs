//! UDP: many sockets on one loop, each with its own task, all echoed by one server socket.

mod common;

use event::UdpSocket;

const CLIENTS: usize = 200;
const ROUNDS: usize = 5;

#[test]
fn many_client_sockets_each_get_their_own_echoes() {
    common::run(async {
        let server = std::rc::Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = server.local_address();
        let echo = event::spawn({
            let server = server.clone();
            async move {
                let mut buf = [0u8; 2048];
                for _ in 0..CLIENTS * ROUNDS {
                    let (n, from) = server.recv_from(&mut buf).await.unwrap();
                    server.send_to(&buf[..n], from).await.unwrap();
                }
            }
        });
        let mut tasks = Vec::new();
        for i in 0..CLIENTS {
            tasks.push(event::spawn(async move {
                let client = UdpSocket::bind("127.0.0.1:0").unwrap();
                client.connect(addr).unwrap();
                let mut buf = [0u8; 2048];
                for round in 0..ROUNDS {
                    let msg = format!("client {i} round {round}");
                    client.send(msg.as_bytes()).await.unwrap();
                    let n = client
                        .recv(&mut buf)
                        .timeout(std::time::Duration::from_secs(10))
                        .await
                        .unwrap();
                    assert_eq!(&buf[..n], msg.as_bytes());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        echo.await.unwrap();
    });
}
