//! UDP: a reader that falls behind a flood loses datagrams only in the kernel's receive queue.
//! Two senders send far more than any queue holds while the reader's task does not read (its
//! loop keeps turning); then the reader reads everything there is: every datagram is intact
//! and in order per sender, the datagrams it did not get are exactly those the kernel counts
//! as dropped for its socket (`/proc/net/udp`), and the process's memory grew by a small
//! fraction of what was sent (the socket's user-space queue is bounded).

mod common;

use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use event::UdpSocket;

const SENDERS: u8 = 2;
const PER_SENDER: u32 = 20_000;
const LEN: usize = 1000;
/// What the process may grow by while 40 MB are sent at it (the buffer group, the queue and
/// the senders' stacks fit many times over; an unbounded queue would not).
const RSS_GROWTH_MAX: u64 = 16 << 20;

/// Datagram `seq` of `sender`: both numbers, then bytes derived from them.
fn datagram(sender: u8, seq: u32) -> Vec<u8> {
    let mut d = vec![sender];
    d.extend_from_slice(&seq.to_le_bytes());
    d.extend((5..LEN).map(|i| (i as u32).wrapping_mul(31) as u8 ^ seq as u8 ^ sender));
    d
}

/// VmRSS of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// The kernel's drop count of the IPv4 UDP socket bound to `addr` (`/proc/net/udp`, last
/// column).
fn kernel_drops(addr: SocketAddr) -> u64 {
    let local = format!("0100007F:{:04X}", addr.port());
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(local.as_str()))
        .unwrap_or_else(|| panic!("no row for {local} in /proc/net/udp"));
    row.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn a_reader_behind_a_flood_gets_intact_datagrams_in_order_and_loses_only_kernel_drops() {
    common::run(async {
        let reader = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = reader.local_address().into();
        // One receive first, so the socket's receive is armed while the flood comes.
        let first = StdUdp::bind("127.0.0.1:0").unwrap();
        first.send_to(b"start", addr).unwrap();
        let mut buf = vec![0u8; 2 * LEN];
        let (n, _) = reader
            .recv_from(&mut buf)
            .timeout(Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"start");
        let drops_before = kernel_drops(addr);
        let rss_before = rss();

        let finished = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let finished = finished.clone();
                std::thread::spawn(move || {
                    let tx = StdUdp::bind("127.0.0.1:0").unwrap();
                    for seq in 0..PER_SENDER {
                        tx.send_to(&datagram(sender, seq), addr).unwrap();
                    }
                    finished.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // The task does not read; its loop keeps turning (and the driver receiving, if it may).
        while finished.load(Ordering::SeqCst) < SENDERS as usize {
            event::sleep(Duration::from_millis(5)).await;
        }
        for s in senders {
            s.join().unwrap();
        }
        event::sleep(Duration::from_millis(50)).await;
        let growth = rss().saturating_sub(rss_before);
        assert!(
            growth < RSS_GROWTH_MAX,
            "memory grew by {growth} bytes while the reader did not read"
        );

        let mut next = [0u32; SENDERS as usize];
        let mut received = 0u64;
        // Loopback delivery is synchronous: once the senders are done, a receive that waits
        // 200 ms finds nothing because there is nothing left.
        while let Ok((n, _)) = reader
            .recv_from(&mut buf)
            .timeout(Duration::from_millis(200))
            .await
        {
            assert_eq!(n, LEN, "a whole datagram");
            let sender = buf[0];
            let seq = u32::from_le_bytes(buf[1..5].try_into().unwrap());
            assert!(sender < SENDERS, "sender {sender}");
            assert!(
                seq >= next[sender as usize],
                "sender {sender}: {seq} out of order"
            );
            assert_eq!(
                &buf[..n],
                &datagram(sender, seq)[..],
                "datagram {sender}/{seq}"
            );
            next[sender as usize] = seq + 1;
            received += 1;
        }
        let dropped = kernel_drops(addr) - drops_before;
        let sent = u64::from(SENDERS) * u64::from(PER_SENDER);
        assert_eq!(
            received + dropped,
            sent,
            "received {received}, the kernel dropped {dropped}: the rest were lost by us"
        );
        assert!(received > 0);
    });
}
