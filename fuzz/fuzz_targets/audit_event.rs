//! Audit events (`phivault_audit::Event::decode`): leaves read back from
//! segment files, PostgreSQL and NATS.
//!
//! Asserts:
//! - decode → encode → decode gives the same event, and the encoding is a
//!   fixed point (encoding the re-decoded event gives the same bytes);
//! - `encoded_index` of a canonical encoding is the event's index;
//! - the exports (Splunk HEC, CEF, FHIR AuditEvent) never panic;
//! - `encoded_index` never panics on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phivault_audit::Event;
use phivault_audit::event::encoded_index;
use phivault_audit::export;

fuzz_target!(|data: &[u8]| {
    let _ = encoded_index(data);
    let Ok(e) = Event::decode(data) else {
        return;
    };
    let bytes = e.encode();
    let again = Event::decode(&bytes).expect("a canonical encoding decodes");
    assert_eq!(again, e);
    assert_eq!(again.encode(), bytes);
    assert_eq!(encoded_index(&bytes), Some(e.index));
    let _ = export::splunk_hec(&e);
    let _ = export::cef(&e);
    let _ = export::fhir_audit_event(&e);
    let _ = e.is_disclosure();
});
