//! Bearer tokens: `pv_<16 hex id>_<43 base64url secret>`.
//!
//! The id is public and used to look the token up; the 256-bit secret is
//! stored only as a SHA-256 hash (a fast hash is right for a uniformly random
//! 256-bit secret) and compared in constant time.

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A newly issued token, to be shown once.
pub struct IssuedToken {
    /// The public lookup id.
    pub id: String,
    /// The full token text for the client.
    pub text: Zeroizing<String>,
    /// What to store.
    pub hash: [u8; 32],
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A token presented by a client, parsed but not yet verified.
pub struct PresentedToken {
    id: String,
    secret: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The presented text is not a phivault token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed bearer token")]
pub struct MalformedToken;

fn hash_secret(secret: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"phivault/token/v1\0");
    ctx.update(secret);
    let d = ctx.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Issues a token with a fresh random id and secret.
pub fn issue() -> Result<IssuedToken, aws_lc_rs::error::Unspecified> {
    let mut id = [0u8; 8];
    aws_lc_rs::rand::fill(&mut id)?;
    let mut secret = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(secret.as_mut())?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let text = Zeroizing::new(format!(
        "pv_{id}_{}",
        URL_SAFE_NO_PAD.encode(secret.as_ref())
    ));
    Ok(IssuedToken {
        hash: hash_secret(secret.as_ref()),
        id,
        text,
    })
}

impl PresentedToken {
    /// Parses untrusted text from an `Authorization` header.
    pub fn parse(text: &str) -> Result<Self, MalformedToken> {
        let rest = text.strip_prefix("pv_").ok_or(MalformedToken)?;
        let (id, secret) = rest.split_once('_').ok_or(MalformedToken)?;
        if id.len() != 16
            || !id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(MalformedToken);
        }
        if secret.len() != 43 {
            return Err(MalformedToken);
        }
        let secret = Zeroizing::new(URL_SAFE_NO_PAD.decode(secret).map_err(|_| MalformedToken)?);
        if secret.len() != 32 {
            return Err(MalformedToken);
        }
        Ok(Self {
            id: id.to_owned(),
            secret,
        })
    }

    /// The public lookup id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Compares against a stored hash in constant time.
    pub fn matches(&self, stored_hash: &[u8]) -> bool {
        hash_secret(&self.secret).ct_eq(stored_hash).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_parse_verify() {
        let t = issue().unwrap();
        assert_eq!(t.text.len(), 3 + 16 + 1 + 43);
        let p = PresentedToken::parse(&t.text).unwrap();
        assert_eq!(p.id(), t.id);
        assert!(p.matches(&t.hash));
        let other = issue().unwrap();
        assert!(!p.matches(&other.hash));
        assert!(!p.matches(&t.hash[..31]));
        assert!(!format!("{t:?}").contains(&t.text[20..]));
    }

    #[test]
    fn rejects_malformed() {
        let t = issue().unwrap();
        let mut wrong = t.text.to_string();
        wrong.replace_range(20..21, "*");
        for s in [
            "",
            "pv_",
            "Bearer x",
            &t.text[..40],
            &wrong,
            "pv_ZZZZZZZZZZZZZZZZ_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(PresentedToken::parse(s).is_err(), "{s}");
        }
    }
}
