//! Breach notification facts (`phivault incident affected`): the US state
//! of each affected patient, read from the sealed `address`, for the
//! 500-residents-of-a-state rule (§164.406). The state code leaves; the
//! address never does.
//!
//! Reading an address is a disclosure to the operator: the caller makes
//! the events of [`Vault::notification_events`] durable first (through the
//! audit outbox), then calls [`Vault::states_of`].

use std::collections::BTreeMap;

use phivault_audit::{Event, Outcome};

use super::view::FieldOut;
use super::{Vault, VaultError};
use crate::audit::Who;

/// US states, DC and territories (USPS codes).
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
];

/// The USPS state code of a one-line US address ending `…, ST 12345` (or
/// `ST 12345-6789`); `None` when it does not end so.
pub fn state_of_address(address: &str) -> Option<&'static str> {
    let mut words = address.trim().rsplit([' ', ',']).filter(|w| !w.is_empty());
    let zip = words.next()?;
    let (five, plus4) = zip.split_once('-').unwrap_or((zip, ""));
    let zip_ok = five.len() == 5
        && five.bytes().all(|b| b.is_ascii_digit())
        && (plus4.is_empty() || (plus4.len() == 4 && plus4.bytes().all(|b| b.is_ascii_digit())));
    if !zip_ok {
        return None;
    }
    let st = words.next()?.to_ascii_uppercase();
    STATES.iter().copied().find(|s| *s == st)
}

impl Vault {
    /// The events recording that the operator `who` reads the address of
    /// each patient for breach notification (purpose `HOPERAT`).
    pub fn notification_events(&self, ids: &[String], who: &Who) -> Vec<Event> {
        let now = self.clock.now();
        ids.iter()
            .map(|id| {
                let mut e = who.event(
                    now,
                    "viewed",
                    format!("/v1/collections/patients/records/{id}"),
                    Outcome::Success,
                );
                e.patient_id = Some(id.clone());
                e.fields = vec!["address".into()];
                e.purpose = Some("HOPERAT".into());
                e.flags = vec!["breach_notification".into()];
                e
            })
            .collect()
    }

    /// The state of each patient (`None`: no address, not a US address,
    /// record gone or shredded).
    pub async fn states_of(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, Option<&'static str>>, VaultError> {
        let coll = self
            .schema
            .collection("patients")
            .ok_or_else(|| VaultError::UnknownCollection("patients".into()))?;
        let mut out = BTreeMap::new();
        for id in ids {
            let state = match self.store.get_record("patients", id).await? {
                Some(stored) if stored.kek_version != phivault_store::SHREDDED_KEK_VERSION => {
                    let opened = self.open(coll, stored).await?;
                    match opened.view.fields.get("address") {
                        Some(FieldOut::Phi(v)) => state_of_address(v.expose()),
                        _ => None,
                    }
                }
                _ => None,
            };
            out.insert(id.clone(), state);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::state_of_address;

    #[test]
    fn the_state_is_read_from_the_end_of_the_address() {
        assert_eq!(
            state_of_address("12 Elm St, Springfield, IL 62704"),
            Some("IL")
        );
        assert_eq!(
            state_of_address("1 Main St, Austin, tx 78701-1234"),
            Some("TX")
        );
        assert_eq!(state_of_address("1 Main St, Austin TX 78701"), Some("TX"));
        assert_eq!(state_of_address("10 Downing St, London SW1A 2AA"), None);
        assert_eq!(state_of_address("1 Main St, Nowhere, ZZ 12345"), None);
        assert_eq!(state_of_address("IL 627"), None);
        assert_eq!(state_of_address(""), None);
    }
}
