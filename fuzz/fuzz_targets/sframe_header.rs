//! The SFrame header (`phivault_telehealth::Header::parse`, RFC 9605 §4.3):
//! the first bytes of every media frame relayed by the SFU.
//!
//! Asserts:
//! - a parsed header consumed at most the input and at most 17 bytes, and
//!   at least its minimal encoding's length (`header.len()`);
//! - the minimal encoding parses back to the same header and length;
//! - when the input's header bytes are the minimal encoding, re-encoding
//!   gives exactly those bytes (non-minimal encodings are accepted on
//!   purpose, see `Header::parse`, so this is not asserted for them);
//! - parse fails only when the input ends inside the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phivault_telehealth::Header;
use phivault_telehealth::header::MAX_HEADER_LEN;

fuzz_target!(|data: &[u8]| {
    match Header::parse(data) {
        Ok((h, len)) => {
            assert!(len <= data.len() && len <= MAX_HEADER_LEN);
            assert!(h.len() <= len);
            let mut enc = Vec::new();
            h.encode(&mut enc);
            assert_eq!(enc.len(), h.len());
            assert_eq!(Header::parse(&enc), Ok((h, h.len())));
            if len == h.len() {
                assert_eq!(&enc[..], &data[..len]);
            }
        }
        Err(_) => {
            // Only truncation is an error: the whole 17-byte worst case
            // padded with zeros parses.
            let mut padded = data.to_vec();
            padded.resize(data.len() + MAX_HEADER_LEN, 0);
            assert!(Header::parse(&padded).is_ok());
        }
    }
});
