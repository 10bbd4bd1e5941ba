//! How the crate reads an audit event: what discloses, what writes, what
//! is a bulk result.

use phivault_audit::{Event, Outcome};

/// The action of a break-glass grant (a `custom:` verb that discloses
/// nothing by itself).
pub(crate) const BREAK_GLASS_ACTION: &str = "custom:break_glass";

/// Whether `e` disclosed a patient's PHI: [`Event::is_disclosure`], minus
/// the break-glass grant, which only opens access.
pub(crate) fn discloses(e: &Event) -> bool {
    e.is_disclosure() && e.action != BREAK_GLASS_ACTION
}

/// Whether `e` successfully wrote a patient's record.
pub(crate) fn writes(e: &Event) -> bool {
    e.outcome == Outcome::Success
        && e.patient_id.is_some()
        && matches!(e.action.as_str(), "created" | "modified" | "deleted")
}

/// A successful search or export whose results are counted but whose
/// patients are not named in the event: the count (0 when not logged).
pub(crate) fn bulk_count(e: &Event) -> Option<u64> {
    (e.outcome == Outcome::Success
        && e.patient_id.is_none()
        && matches!(e.action.as_str(), "searched" | "exported"))
    .then_some(e.count.unwrap_or(0))
}

/// Whether the event carries the break-glass marker.
pub(crate) fn is_break_glass(e: &Event) -> bool {
    e.action == BREAK_GLASS_ACTION || e.flags.iter().any(|f| f == "break_glass")
}
