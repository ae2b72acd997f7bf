//! The chat example over real sockets with three clients: every line goes to every other
//! client (prefixed with the sender's address) and never back to its sender; a client that
//! leaves does not disturb the others.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

struct Client {
    out: TcpStream,
    lines: BufReader<TcpStream>,
    /// The client's address, as the server names it.
    name: String,
}

impl Client {
    /// Connects and waits for the welcome: from then on the server has it in the room.
    fn join(addr: std::net::SocketAddr) -> Client {
        let out = TcpStream::connect(addr).unwrap();
        out.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = out.local_addr().unwrap().to_string();
        let mut client = Client {
            lines: BufReader::new(out.try_clone().unwrap()),
            out,
            name,
        };
        let welcome = client.line();
        assert!(
            welcome.starts_with(&format!("welcome {}", client.name)),
            "{welcome:?}"
        );
        client
    }

    fn say(&mut self, text: &str) {
        self.out.write_all(format!("{text}\n").as_bytes()).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.lines.read_line(&mut line).unwrap();
        assert!(n > 0, "{}: the server closed the connection", self.name);
        line
    }
}

#[test]
fn every_line_reaches_every_other_client_and_not_its_sender() {
    let server = common::ExampleProcess::example("chat", &[]);
    assert!(
        server.banner.starts_with("chat server listening on"),
        "{}",
        server.banner
    );
    let mut clients: Vec<Client> = (0..3).map(|_| Client::join(server.addr)).collect();
    for round in 0..2 {
        for from in 0..3 {
            let text = format!("round {round} from client {from}");
            clients[from].say(&text);
            let expected = format!("{}: {text}\n", clients[from].name);
            for (to, client) in clients.iter_mut().enumerate() {
                if to != from {
                    assert_eq!(client.line(), expected, "client {to}");
                }
            }
        }
    }
    // A sender never hears itself: its next line is the next client's message, checked above
    // for every round. A client that leaves: the other two go on talking.
    drop(clients.pop());
    clients[0].say("still here");
    assert_eq!(
        clients[1].line(),
        format!("{}: still here\n", clients[0].name)
    );
    clients[1].say("me too");
    assert_eq!(clients[0].line(), format!("{}: me too\n", clients[1].name));
    assert!(server.child_alive(), "{}", server.stderr.lock().unwrap());
}

#[test]
fn chat_help_is_on_stdout_and_exits_zero() {
    let out = common::run_example(&common::example_binary("chat"), &["--help"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--addr"));
}
