//! Plaintext PHI as a type that never prints and zeroizes on drop.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A plaintext PHI value (already validated and normalized when it comes out
/// of [`crate::validate`]).
///
/// `Debug` and `Display` print `[REDACTED]`; there is deliberately no
/// `Serialize` impl. The only way to read the text is [`PhiValue::expose`],
/// whose callers are the envelope (to seal it), the blind index (to hash it)
/// and the HTTP response writer (to return it to an authorized caller).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PhiValue(String);

impl PhiValue {
    /// Wraps a value. The caller hands over ownership; the string is
    /// zeroized when this value drops.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The plaintext. Uses of this function should explain why the value may
    /// be read at that point.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes, for size checks that must not read the value.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for PhiValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhiValue([REDACTED])")
    }
}

impl fmt::Display for PhiValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let v = PhiValue::new("123-45-6789".to_owned());
        assert_eq!(format!("{v}"), "[REDACTED]");
        assert!(!format!("{v:?}").contains("6789"));
        assert_eq!(v.expose(), "123-45-6789");
    }
}
