//! Bearer tokens and record ids (`phivault_core::token::PresentedToken::parse`,
//! `phivault_core::ids::RecordId::parse`): the `Authorization` header and URL
//! path segments.
//!
//! Asserts:
//! - a parsed token is exactly `pv_` + its 16-hex id + `_` + 43 characters
//!   (63 bytes in all), and matches no stored hash of the wrong length;
//! - a parsed record id is the input unchanged, 36 bytes, lowercase.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phivault_core::ids::RecordId;
use phivault_core::token::PresentedToken;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = PresentedToken::parse(text) {
        assert_eq!(text.len(), 63);
        assert_eq!(Some(t.id()), text.get(3..19));
        assert!(text.starts_with("pv_") && text.as_bytes()[19] == b'_');
        assert!(!t.matches(&[0u8; 31]));
        assert!(!t.matches(&[0u8; 32]));
    }
    if let Ok(id) = RecordId::parse(text) {
        assert_eq!(id.as_str(), text);
        assert_eq!(text.len(), 36);
        assert!(!text.bytes().any(|b| b.is_ascii_uppercase()));
    }
});
