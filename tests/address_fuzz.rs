//! A bounded fuzz of address parsing: random texts from an alphabet rich in the characters
//! addresses use. Properties: parsing never panics; it accepts exactly what the standard
//! library's `SocketAddr` parser accepts; accepted addresses print and parse back to themselves;
//! rejected ones are `InvalidAddress` naming the input. Runs for a fixed number of cases (set
//! `EVENT_FUZZ_CASES` to run longer).

use std::net::SocketAddr;

use event::{SocketAddress, SocketError};

const ALPHABET: &[u8] = b"0123456789abcdefABCDEF.:[]%-x /\0\xff";

#[test]
fn address_parsing_agrees_with_std_and_never_panics() {
    let cases: u64 = std::env::var("EVENT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut accepted = 0;
    for _ in 0..cases {
        let len = (next() % 48) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // Seed some structure in: half of the cases are mutated valid addresses.
        let text = if next() % 2 == 0 {
            mutate_valid(&text, next())
        } else {
            text
        };
        let ours = text.parse::<SocketAddress>();
        let std = text.parse::<SocketAddr>();
        match (&ours, &std) {
            (Ok(a), Ok(b)) => {
                accepted += 1;
                assert_eq!(a.to_std(), *b, "{text:?}");
                assert_eq!(a.to_string().parse::<SocketAddress>().unwrap(), *a);
            }
            (Err(SocketError::InvalidAddress { input, .. }), Err(_)) => assert_eq!(input, &text),
            _ => panic!("{text:?}: ours {ours:?}, std {std:?}"),
        }
        // The typed constructors never panic either.
        let _ = SocketAddress::ipv4(&text, 1);
        let _ = SocketAddress::ipv6(&text, 1);
    }
    assert!(accepted > 0, "the generator produced no valid address");
}

fn mutate_valid(noise: &str, r: u64) -> String {
    let bases = [
        "127.0.0.1:8080",
        "[::1]:80",
        "0.0.0.0:0",
        "[fe80::1%2]:443",
        "255.255.255.255:65535",
    ];
    let base = bases[(r % bases.len() as u64) as usize];
    let cut = (r >> 8) as usize % (base.len() + 1);
    match (r >> 16) % 4 {
        0 => base.to_string(),
        1 => format!("{}{}", &base[..cut], noise),
        2 => format!(
            "{}{}",
            &base[..cut],
            &base[cut.min(base.len())..].replacen(':', "", 1)
        ),
        _ => format!("{noise}{base}"),
    }
}
