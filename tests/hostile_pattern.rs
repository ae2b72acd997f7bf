//! The hostile suite's byte checks are not vacuous: the per-connection pattern and its checker
//! catch a lost, repeated, altered or foreign byte, whole lost blocks included. (No server
//! needed: this runs without `EVENT_ECHO`.)
mod common;

use common::clients::{Checker, Pattern};

/// Feeds `stream` to a checker of `seed` in pieces of `piece` bytes.
fn check(seed: u64, stream: &[u8], piece: usize) -> Result<(), String> {
    let mut c = Checker::new(Pattern::new(seed));
    stream.chunks(piece).try_for_each(|p| c.check(p))
}

#[test]
fn the_stream_passes_in_any_pieces_and_fill_is_random_access() {
    let p = Pattern::new(7);
    let whole = p.bytes(0, 300_000);
    for piece in [1, 7, 64, 4096, 65_521, 65_536, 300_000] {
        check(7, &whole, piece).unwrap();
    }
    assert_eq!(p.bytes(123_456, 1000), whole[123_456..124_456]);
}

#[test]
fn loss_repetition_alteration_and_other_streams_are_caught() {
    let whole = Pattern::new(7).bytes(0, 400_000);
    let mut lost_byte = whole.clone();
    lost_byte.remove(200_000);
    assert!(check(7, &lost_byte, 4096).is_err(), "one byte lost");
    // A whole block's worth lost or repeated: the stamp differs.
    let mut lost_block = whole[..65_521].to_vec();
    lost_block.extend_from_slice(&whole[2 * 65_521..]);
    assert!(check(7, &lost_block, 4096).is_err(), "a block lost");
    let mut repeated = whole[..100_000].to_vec();
    repeated.extend_from_slice(&whole[100_000 - 16_384..]);
    assert!(check(7, &repeated, 4096).is_err(), "16 KiB repeated");
    let mut altered = whole.clone();
    altered[399_999] ^= 1;
    let e = check(7, &altered, 4096).unwrap_err();
    assert!(e.contains("byte 399999"), "{e}");
    assert!(
        check(8, &whole, 4096).is_err(),
        "another connection's stream"
    );
}
