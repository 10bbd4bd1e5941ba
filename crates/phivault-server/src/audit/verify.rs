//! Whole-log verification against a store: reads every frame in order and
//! every checkpoint, and hands them to the core verifier.

use std::sync::Arc;

use phivault_audit::VerifierKey;
use phivault_audit::verify::{LogVerifier, Verified, VerifyError};
use phivault_store::audit::AuditStore;

/// Why verification stopped.
#[derive(Debug, thiserror::Error)]
pub enum VerifyStoreError {
    /// The log is not intact.
    #[error(transparent)]
    Bad(#[from] VerifyError),
    /// The store could not be read.
    #[error("audit store: {0}")]
    Store(String),
}

/// Verifies the whole log in `store` with `key`.
pub async fn verify_store(
    store: &Arc<dyn AuditStore>,
    key: &VerifierKey,
) -> Result<Verified, VerifyStoreError> {
    let notes = store
        .checkpoints()
        .await
        .map_err(|e| VerifyStoreError::Store(e.to_string()))?;
    let mut v = LogVerifier::new(&notes, key)?;
    loop {
        let from = v.size();
        let page = store
            .read(from, 16_384)
            .await
            .map_err(|e| VerifyStoreError::Store(e.to_string()))?;
        if page.is_empty() {
            break;
        }
        for f in &page {
            v.push(f.index, &f.leaf, &f.event)?;
        }
    }
    Ok(v.finish()?)
}
