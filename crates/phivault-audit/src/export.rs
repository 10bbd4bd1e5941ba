//! Export formats for the tools people use: JSON lines for a Splunk HTTP
//! Event Collector, ArcSight CEF for other SIEMs, and FHIR R4 `AuditEvent`
//! resources following the IHE Basic Audit Log Patterns (BALP).

use serde_json::{Value, json};

use crate::event::{Event, Outcome};

/// One Splunk HEC event (`{"time", "source", "sourcetype", "event"}`).
pub fn splunk_hec(e: &Event) -> Value {
    let time = e
        .timestamp
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond() as f64 / 1e6)
        .unwrap_or(0.0);
    json!({
        "time": time,
        "source": "phivault",
        "sourcetype": "phivault:audit",
        "event": e,
    })
}

fn set(obj: &mut Value, key: &str, v: Value) {
    if let Some(m) = obj.as_object_mut() {
        m.insert(key.to_owned(), v);
    }
}

fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// One CEF line: `CEF:0|phivault|phivault|ver|action|name|severity|ext`.
pub fn cef(e: &Event) -> String {
    let severity = match (e.outcome, e.flags.iter().any(|f| f == "break_glass")) {
        (_, true) => 8,
        (Outcome::Denied, _) => 6,
        (Outcome::Failure, _) => 5,
        (Outcome::Success, _) => 3,
    };
    let rt = e
        .timestamp
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .unwrap_or(0);
    let mut ext = vec![
        format!("rt={rt}"),
        format!("suser={}", cef_value(&e.user)),
        format!("src={}", cef_value(&e.context.ip)),
        format!("request={}", cef_value(&e.resource)),
        format!("outcome={}", e.outcome.as_str()),
        format!("externalId={}", e.index),
    ];
    let mut labelled = |n: usize, label: &str, v: &str| {
        ext.push(format!("cs{n}Label={label} cs{n}={}", cef_value(v)));
    };
    if let Some(p) = &e.patient_id {
        labelled(1, "patientId", p);
    }
    if !e.fields.is_empty() {
        labelled(2, "fields", &e.fields.join(","));
    }
    if let Some(r) = &e.reason {
        labelled(3, "reason", r);
    }
    if let Some(p) = &e.purpose {
        labelled(4, "purposeOfUse", p);
    }
    if let Some(r) = &e.request_id {
        labelled(5, "requestId", r);
    }
    if let Some(d) = &e.context.device_id {
        labelled(6, "deviceId", d);
    }
    format!(
        "CEF:0|phivault|phivault|{}|{}|{}|{}|{}",
        env!("CARGO_PKG_VERSION"),
        cef_header(&e.action),
        cef_header(&format!("{} {}", e.action, e.outcome.as_str())),
        severity,
        ext.join(" ")
    )
}

/// The BALP profile, FHIR interaction and CRUDE action code for an action.
fn balp(action: &str) -> (Option<&'static str>, &'static str, &'static str) {
    match action {
        "viewed" => (Some("PatientRead"), "read", "R"),
        "searched" => (Some("PatientQuery"), "search-type", "E"),
        "created" => (Some("PatientCreate"), "create", "C"),
        "modified" => (Some("PatientUpdate"), "update", "U"),
        "deleted" => (Some("PatientDelete"), "delete", "D"),
        "exported" => (None, "search-type", "E"),
        _ => (None, "operation", "E"),
    }
}

/// A FHIR R4 `AuditEvent` (IHE BALP `IHE.BasicAudit.Patient*` for record
/// operations on a patient).
pub fn fhir_audit_event(e: &Event) -> Value {
    let (profile, interaction, crude) = balp(&e.action);
    let outcome = match e.outcome {
        Outcome::Success => "0",
        Outcome::Denied => "4",
        Outcome::Failure => "8",
    };
    let mut agent = json!({
        "type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
            "code": "IRCP", "display": "information recipient"}]},
        "who": {"identifier": {"value": e.user}},
        "requestor": true,
        "network": {"address": e.context.ip, "type": "2"},
    });
    if let Some(p) = &e.purpose {
        set(
            &mut agent,
            "purposeOfUse",
            json!([{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": p}]}]),
        );
    }
    let mut entity = vec![];
    if let Some(p) = &e.patient_id {
        entity.push(json!({
            "what": {"identifier": {"value": p}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }));
    }
    entity.push(json!({
        "what": {"display": e.resource},
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        "detail": e.fields.iter().map(|f| json!({"type": "field", "valueString": f})).collect::<Vec<_>>(),
    }));
    if let Some(r) = &e.request_id {
        entity.push(json!({
            "what": {"identifier": {"value": r}},
            "type": {"system": "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", "code": "XrequestId"},
        }));
    }
    let mut ev = json!({
        "resourceType": "AuditEvent",
        "id": format!("phivault-{}", e.index),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": interaction}],
        "action": crude,
        "recorded": e.timestamp,
        "outcome": outcome,
        "agent": [agent],
        "source": {
            "observer": {"display": "phivault"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}],
        },
        "entity": entity,
    });
    if let Some(p) = profile {
        set(
            &mut ev,
            "meta",
            json!({"profile": [format!("https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.{p}")]}),
        );
    }
    if let Some(r) = &e.reason {
        set(&mut ev, "outcomeDesc", json!(r));
    }
    ev
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::event::EventContext;

    fn ev() -> Event {
        Event {
            index: 3,
            timestamp: "2026-11-24T10:00:00.250000Z".into(),
            user: "dr|x=y".into(),
            action: "viewed".into(),
            resource: "/v1/collections/patients/records/p1".into(),
            context: EventContext {
                ip: "10.0.0.1".into(),
                device_id: None,
                location: None,
            },
            outcome: Outcome::Success,
            reason: None,
            request_id: Some("r1".into()),
            token: None,
            patient_id: Some("p1".into()),
            fields: vec!["name".into(), "ssn".into()],
            purpose: Some("TREAT".into()),
            query: vec![],
            count: None,
            flags: vec![],
            permission: None,
        }
    }

    #[test]
    fn formats_carry_the_event_and_escape_it() {
        let e = ev();
        let hec = splunk_hec(&e);
        assert_eq!(hec["time"], json!(1_795_514_400.25));
        assert_eq!(hec["event"]["patient_id"], "p1");
        let line = cef(&e);
        assert!(line.starts_with("CEF:0|phivault|phivault|"));
        assert!(line.contains("|viewed|viewed success|3|rt=1795514400250 suser=dr|x\\=y "));
        assert!(line.contains("cs1Label=patientId cs1=p1"));
        let f = fhir_audit_event(&e);
        assert_eq!(f["resourceType"], "AuditEvent");
        assert_eq!(f["action"], "R");
        assert_eq!(
            f["meta"]["profile"][0],
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"
        );
        assert_eq!(f["entity"][0]["what"]["identifier"]["value"], "p1");
        assert_eq!(
            f["agent"][0]["purposeOfUse"][0]["coding"][0]["code"],
            "TREAT"
        );
    }
}
