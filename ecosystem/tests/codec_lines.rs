//! tokio-util's `LinesCodec` framing a `Socket` (through the `tokio-io` feature's traits) on
//! this crate's loop: no tokio runtime involved.
#[path = "../../tests/common/mod.rs"]
mod common;

use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::{Framed, LinesCodec};

#[test]
fn lines_codec_round_trips_three_lines_through_an_echo_server() {
    common::run(async {
        let addr = common::spawn_echo_server();
        let socket = event::Socket::connect(addr).await.unwrap();
        let mut lines = Framed::new(socket, LinesCodec::new());
        let sent = ["first line", "second, with ünïcödé", ""];
        for line in sent {
            // `send` encodes and flushes: one line per write.
            lines.send(line).await.unwrap();
        }
        for expected in sent {
            let got = lines.next().await.expect("a frame").expect("a line");
            assert_eq!(got, expected);
        }
    });
}

#[test]
fn lines_codec_splits_a_batch_and_ends_at_end_of_stream() {
    common::run(async {
        let addr = common::spawn_echo_server();
        let socket = event::Socket::connect(addr).await.unwrap();
        let mut lines = Framed::new(socket, LinesCodec::new());
        // `feed` only buffers: the three lines go out together on the flush.
        for line in ["one", "two", "three"] {
            lines.feed(line).await.unwrap();
        }
        SinkExt::<&str>::flush(&mut lines).await.unwrap();
        for expected in ["one", "two", "three"] {
            assert_eq!(lines.next().await.unwrap().unwrap(), expected);
        }
        // Half-close our side: the echo server reads end of stream and closes, and the
        // framed stream ends (Ok(0) from the tokio trait) instead of failing.
        SinkExt::<&str>::close(&mut lines).await.unwrap();
        assert!(lines.next().await.is_none());
    });
}
