//! Several tasks on one socket (an `Rc<Socket>`, as in a chat server's fan-out): their writes
//! take turns and never interleave, their reads get whole, ordered bytes, and none hangs.

mod common;

use std::cell::{Cell, RefCell};
use std::io::Read as _;
use std::rc::Rc;
use std::time::Duration;

use event::{Socket, SocketAddress};

const LINE: usize = 300_000;
const LINES_PER_TASK: usize = 20;

/// Reads `lines` newline-terminated lines from a blocking client and checks that each is one
/// letter repeated `LINE` times: bytes of two writes mixed would show as a line of two letters
/// or of the wrong length.
fn read_lines(mut client: std::net::TcpStream, lines: usize) -> Vec<u8> {
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    while all.len() < lines * (LINE + 1) {
        let n = client.read(&mut buf).expect("the writers stalled");
        assert!(n > 0, "end of stream after {} bytes", all.len());
        all.extend_from_slice(&buf[..n]);
    }
    let mut letters = Vec::new();
    for (i, line) in all.split(|&b| b == b'\n').take(lines).enumerate() {
        assert_eq!(line.len(), LINE, "line {i} has the wrong length");
        assert!(
            line.iter().all(|&b| b == line[0]),
            "line {i} mixes bytes of two writes"
        );
        letters.push(line[0]);
    }
    letters
}

#[test]
fn writes_from_two_tasks_take_turns_and_each_goes_out_whole() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddress = listener.local_addr().unwrap().into();
    let reader = std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        read_lines(client, 2 * LINES_PER_TASK)
    });
    common::run(async move {
        let socket = Rc::new(Socket::connect(addr).await.unwrap());
        let writers: Vec<_> = [b'A', b'B']
            .into_iter()
            .map(|letter| {
                let socket = socket.clone();
                event::spawn(async move {
                    let mut line = vec![letter; LINE];
                    line.push(b'\n');
                    for _ in 0..LINES_PER_TASK {
                        socket.write(&line).await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
    });
    let letters = reader.join().unwrap();
    assert_eq!(
        letters.iter().filter(|&&l| l == b'A').count(),
        LINES_PER_TASK
    );
    assert_eq!(
        letters.iter().filter(|&&l| l == b'B').count(),
        LINES_PER_TASK
    );
}

#[test]
fn owned_and_borrowed_writes_from_three_tasks_never_interleave() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddress = listener.local_addr().unwrap().into();
    let reader = std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        read_lines(client, 3 * 10)
    });
    common::run(async move {
        let socket = Rc::new(Socket::connect(addr).await.unwrap());
        let writers: Vec<_> = [b'A', b'B', b'C']
            .into_iter()
            .map(|letter| {
                let socket = socket.clone();
                event::spawn(async move {
                    for _ in 0..10 {
                        let mut line = vec![letter; LINE];
                        line.push(b'\n');
                        if letter == b'B' {
                            socket.write(&line).await.unwrap();
                        } else {
                            let (r, _) = socket.write_owned(line).await;
                            r.unwrap();
                        }
                        event::yield_now().await;
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
    });
    let letters = reader.join().unwrap();
    for l in [b'A', b'B', b'C'] {
        assert_eq!(letters.iter().filter(|&&x| x == l).count(), 10);
    }
}

#[test]
fn reads_from_two_tasks_get_the_stream_whole_and_in_order() {
    const TOTAL: usize = 4 * 1024 * 1024;
    let data = common::pattern(TOTAL, 7);
    let expected = data.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddress = listener.local_addr().unwrap().into();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let (mut client, _) = listener.accept().unwrap();
        for chunk in data.chunks(10_000) {
            client.write_all(chunk).unwrap();
        }
    });
    let received = common::run(async move {
        let socket = Rc::new(Socket::connect(addr).await.unwrap());
        // Every completed read appends here, in the order reads complete on the loop.
        let stream = Rc::new(RefCell::new(Vec::with_capacity(TOTAL)));
        let reads = Rc::new(Cell::new(0usize));
        let readers: Vec<_> = (0..2)
            .map(|i| {
                let (socket, stream, reads) = (socket.clone(), stream.clone(), reads.clone());
                event::spawn(async move {
                    let mut buf = vec![0; 1000 + i * 3000];
                    loop {
                        match socket.read_into(&mut buf).await {
                            Ok(n) => {
                                stream.borrow_mut().extend_from_slice(&buf[..n]);
                                reads.set(reads.get() + 1);
                            }
                            Err(event::SocketError::ConnectionClosed) => return,
                            Err(e) => panic!("reader {i}: {e}"),
                        }
                    }
                })
            })
            .collect();
        for r in readers {
            r.await.unwrap();
        }
        assert!(reads.get() > 2);
        stream.take()
    });
    writer.join().unwrap();
    assert_eq!(received.len(), TOTAL);
    assert!(received == expected, "the readers' bytes are out of order");
}
