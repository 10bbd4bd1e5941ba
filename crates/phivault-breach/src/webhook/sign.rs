//! The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`, HMAC by
//! aws-lc-rs, compared in constant time.

use std::fmt;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::util::{hex, unhex};

/// Shortest accepted secret, in bytes (256 bits).
pub const MIN_SECRET_LEN: usize = 32;
/// Longest accepted header, in bytes.
const MAX_HEADER: usize = 4096;
/// Most `v1` signatures in one header (several during secret rotation).
const MAX_SIGNATURES: usize = 8;

/// A webhook signing secret. Zeroized on drop; `Debug` prints nothing of
/// it; there is no `Display` or `Serialize`.
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecret").finish_non_exhaustive()
    }
}

impl WebhookSecret {
    /// Wraps secret bytes (at least [`MIN_SECRET_LEN`]); the vector is
    /// zeroized when this value drops (or at once, if refused).
    pub fn new(bytes: Vec<u8>) -> Result<Self, WebhookError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < MIN_SECRET_LEN {
            return Err(WebhookError::WeakSecret);
        }
        Ok(Self(bytes))
    }

    fn key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.0)
    }
}

/// Why a signature header was refused. Deliberately coarse: a receiver
/// learns nothing about which signature came close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The secret is shorter than 32 bytes.
    #[error("webhook secret must be at least 32 bytes")]
    WeakSecret,
    /// The header is not `t=…,v1=…`.
    #[error("webhook signature header is malformed")]
    Malformed,
    /// The timestamp is outside the tolerance (a replay or a skewed clock).
    #[error("webhook signature timestamp is outside the tolerance")]
    Stale,
    /// No signature matches.
    #[error("webhook signature does not match")]
    BadSignature,
}

fn message(timestamp_s: i64, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{timestamp_s}.").into_bytes();
    m.extend_from_slice(body);
    m
}

/// The header value for `body` sent at `timestamp_s`.
pub fn sign(secret: &WebhookSecret, timestamp_s: i64, body: &[u8]) -> String {
    let tag = hmac::sign(&secret.key(), &message(timestamp_s, body));
    format!("t={timestamp_s},v1={}", hex(tag.as_ref()))
}

/// Checks a header against `body` at `now_s`, accepting timestamps within
/// `tolerance_s` seconds either way. Any one matching `v1` suffices (a
/// sender rotating secrets sends one per secret); other schemes are ignored.
pub fn verify(
    secret: &WebhookSecret,
    header: &str,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), WebhookError> {
    if header.len() > MAX_HEADER || tolerance_s < 0 {
        return Err(WebhookError::Malformed);
    }
    let mut t = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(WebhookError::Malformed)?;
        match k {
            "t" if t.is_none() => {
                let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                t = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|_| digits)
                        .ok_or(WebhookError::Malformed)?,
                );
            }
            "t" => return Err(WebhookError::Malformed),
            "v1" => tags.push(unhex(v).ok_or(WebhookError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(WebhookError::Malformed)?;
    if tags.is_empty() || tags.len() > MAX_SIGNATURES {
        return Err(WebhookError::Malformed);
    }
    if now_s.abs_diff(t) > tolerance_s.unsigned_abs() {
        return Err(WebhookError::Stale);
    }
    let key = secret.key();
    let msg = message(t, body);
    // Every tag is checked (no early exit), each in constant time.
    let matched = tags
        .iter()
        .fold(false, |ok, tag| hmac::verify(&key, &msg, tag).is_ok() | ok);
    if matched {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> WebhookSecret {
        WebhookSecret::new(vec![b; 32]).unwrap()
    }

    /// RFC 4231 section 4.3 (test case 2): the primitive called is
    /// HMAC-SHA256 with the key as given, no derivation.
    #[test]
    fn hmac_matches_rfc_4231() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signatures_verify_and_forgeries_do_not() {
        let s = secret(7);
        let body = br#"{"id":"al_1"}"#;
        let h = sign(&s, 1_772_445_600, body);
        assert!(h.starts_with("t=1772445600,v1="));
        assert_eq!(h.len(), "t=1772445600,v1=".len() + 64);
        assert_eq!(verify(&s, &h, body, 1_772_445_600, 300), Ok(()));
        assert_eq!(verify(&s, &h, body, 1_772_445_600 + 300, 300), Ok(()));
        assert_eq!(
            verify(&s, &h, body, 1_772_445_600 + 301, 300),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            verify(&s, &h, body, 1_772_445_600 - 301, 300),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            verify(&s, &h, b"{}", 1_772_445_600, 300),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&secret(8), &h, body, 1_772_445_600, 300),
            Err(WebhookError::BadSignature)
        );
        // Moving the timestamp breaks the signature.
        let moved = h.replacen("t=1772445600", "t=1772445601", 1);
        assert_eq!(
            verify(&s, &moved, body, 1_772_445_600, 300),
            Err(WebhookError::BadSignature)
        );
        // Rotation: an old and a new signature, either order, plus an
        // unknown scheme.
        let new = sign(&secret(9), 1_772_445_600, body);
        let v1_new = new.split_once(",v1=").unwrap().1;
        let both = format!("{h},v1={v1_new},v0=zz");
        assert_eq!(verify(&secret(9), &both, body, 1_772_445_600, 300), Ok(()));
        assert_eq!(verify(&s, &both, body, 1_772_445_600, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_and_weak_secrets_are_refused() {
        let s = secret(7);
        for h in [
            "",
            "t=1",
            "v1=00",
            "t=,v1=00",
            "t=-5,v1=00",
            "t=+5,v1=00",
            "t=1,t=1,v1=00",
            "t=1,v1=xyz",
            "t=1;v1=00",
            "garbage",
        ] {
            assert_eq!(
                verify(&s, h, b"", 1, 10),
                Err(WebhookError::Malformed),
                "{h}"
            );
        }
        let many = format!("t=1{}", ",v1=00".repeat(9));
        assert_eq!(verify(&s, &many, b"", 1, 10), Err(WebhookError::Malformed));
        assert_eq!(
            verify(&s, &sign(&s, 1, b""), b"", 1, -1),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            WebhookSecret::new(vec![1; 31]).unwrap_err(),
            WebhookError::WeakSecret
        );
        assert_eq!(format!("{s:?}"), "WebhookSecret { .. }");
    }
}
