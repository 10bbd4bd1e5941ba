//! The header parser takes untrusted network bytes: it must never panic, and whatever it
//! accepts must round-trip through the encoder when minimally encoded.

use phivault_telehealth::{CipherSuite, Header, SframeReceiver};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok((header, len)) = Header::parse(&bytes) {
            prop_assert!(len <= bytes.len());
            prop_assert!(len <= phivault_telehealth::header::MAX_HEADER_LEN);
            prop_assert!(header.len() <= len);
        }
    }

    #[test]
    fn open_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut rx = SframeReceiver::new(CipherSuite::AesGcm128Sha256);
        rx.add_key(0, b"key").unwrap();
        let mut out = Vec::new();
        prop_assert!(rx.open(b"", &bytes, &mut out).is_err());
    }

    #[test]
    fn open_never_panics_behind_a_valid_header(
        ctr in any::<u64>(),
        generation in 0u64..40,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        for suite in CipherSuite::ALL {
            let mut rx = SframeReceiver::new(suite);
            rx.add_key(9, b"key").unwrap();
            let mut frame = Vec::new();
            Header { kid: phivault_telehealth::frame::kid(9, generation), ctr }.encode(&mut frame);
            frame.extend_from_slice(&body);
            let mut out = Vec::new();
            prop_assert!(rx.open(b"", &frame, &mut out).is_err());
        }
    }

    #[test]
    fn encode_parse_round_trip(kid in any::<u64>(), ctr in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let header = Header { kid, ctr };
        let mut buf = Vec::new();
        header.encode(&mut buf);
        prop_assert_eq!(buf.len(), header.len());
        let len = buf.len();
        buf.extend_from_slice(&tail);
        prop_assert_eq!(Header::parse(&buf).unwrap(), (header, len));
        prop_assert!(Header::parse(&buf[..len - 1]).is_err() || len == 1);
    }
}
