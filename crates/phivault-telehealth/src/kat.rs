//! Entry points for known-answer tests (RFC 9605 Appendix C): the same code paths as
//! [`crate::frame`], with the KID, counter and key material given by the vector instead of the
//! §5.1 layout. Not for production use.

use zeroize::Zeroizing;

use crate::error::{OpenError, SealError};
use crate::header::Header;
use crate::suite::{CipherSuite, FrameKey, NONCE_LEN, hkdf_expand};

/// `(sframe_key, sframe_salt)` of RFC 9605 §4.4.2 for `kid` and `base_key`.
#[must_use]
pub fn derive_key_salt(
    suite: CipherSuite,
    kid: u64,
    base_key: &[u8],
) -> (Zeroizing<Vec<u8>>, [u8; NONCE_LEN]) {
    let kid = kid.to_be_bytes();
    let id = suite.id().to_be_bytes();
    let mut key = Zeroizing::new(vec![0u8; suite.key_len()]);
    hkdf_expand(
        suite,
        base_key,
        &[b"SFrame 1.0 Secret key ", &kid, &id],
        &mut key,
    );
    let mut salt = [0u8; NONCE_LEN];
    hkdf_expand(
        suite,
        base_key,
        &[b"SFrame 1.0 Secret salt ", &kid, &id],
        &mut salt,
    );
    (key, salt)
}

/// AEAD.Encrypt with an explicit key and nonce (Appendix C.3, AES-CTR-HMAC).
///
/// # Errors
/// [`SealError::Encrypt`] if the key length does not fit the suite.
pub fn aead_seal(
    suite: CipherSuite,
    key: &[u8],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    // With CTR = 0 the nonce is the salt itself.
    let key = FrameKey::from_parts(suite, key, nonce).map_err(|_| SealError::Encrypt)?;
    let mut body = plaintext.to_vec();
    let mut tag = vec![0u8; suite.tag_len()];
    key.seal(0, aad, &mut body, &mut tag)
        .map_err(|_| SealError::Encrypt)?;
    body.extend_from_slice(&tag);
    Ok(body)
}

/// Full SFrame encryption (§4.4.3) of one frame under `base_key` with the given header.
///
/// # Errors
/// [`SealError::Encrypt`] if the base key is empty.
pub fn seal(
    suite: CipherSuite,
    base_key: &[u8],
    header: Header,
    metadata: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let key = FrameKey::derive(suite, header.kid, base_key).map_err(|_| SealError::Encrypt)?;
    let mut out = Vec::new();
    header.encode(&mut out);
    let mut aad = out.clone();
    aad.extend_from_slice(metadata);
    let mut body = plaintext.to_vec();
    let mut tag = vec![0u8; suite.tag_len()];
    key.seal(header.ctr, &aad, &mut body, &mut tag)
        .map_err(|_| SealError::Encrypt)?;
    out.extend_from_slice(&body);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Full SFrame decryption (§4.4.4) of one frame under `base_key`.
///
/// # Errors
/// [`OpenError::Header`] or [`OpenError::Decrypt`].
pub fn open(
    suite: CipherSuite,
    base_key: &[u8],
    metadata: &[u8],
    frame: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let (header, len) = Header::parse(frame)?;
    let key = FrameKey::derive(suite, header.kid, base_key).map_err(|_| OpenError::Decrypt)?;
    let (header_bytes, body) = frame.split_at_checked(len).ok_or(OpenError::Decrypt)?;
    let ct_len = body
        .len()
        .checked_sub(suite.tag_len())
        .ok_or(OpenError::Decrypt)?;
    let (ct, tag) = body.split_at_checked(ct_len).ok_or(OpenError::Decrypt)?;
    let mut aad = header_bytes.to_vec();
    aad.extend_from_slice(metadata);
    let mut out = ct.to_vec();
    key.open(header.ctr, &aad, &mut out, tag)
        .map_err(|_| OpenError::Decrypt)?;
    Ok(out)
}
