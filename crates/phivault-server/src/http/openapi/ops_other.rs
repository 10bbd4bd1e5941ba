//! The audit trail, breach response, telehealth and the telehealth page.

use super::Op;
use super::ops::{filter, op, query};
use super::schemas::{
    any, count, json, list, media, named, nullable_string, object, open_object, string, time,
};

pub(super) fn audit() -> Vec<Op> {
    let proof = |a: &'static str, b: &'static str| {
        json(
            "the proof (base64 hashes)",
            object(
                vec![
                    (a, count().into()),
                    (b, count().into()),
                    ("proof", list(string())),
                ],
                &[a, b, "proof"],
            ),
        )
    };
    vec![
        op("GET", "/v1/audit/public-key", "the checkpoint verifier key")
            .public()
            .ok(200, media("verifier key", &["text/plain"])),
        op(
            "GET",
            "/v1/audit/checkpoint",
            "the newest signed checkpoint (C2SP signed note)",
        )
        .ok(200, media("signed note", &["text/plain"])),
        op("GET", "/v1/audit/proofs/inclusion", "an inclusion proof")
            .query(query("index", count(), true))
            .query(query("tree_size", count(), true))
            .ok(200, proof("index", "tree_size")),
        op("GET", "/v1/audit/proofs/consistency", "a consistency proof")
            .query(query("from", count(), true))
            .query(query("to", count(), true))
            .ok(200, proof("from", "to")),
        op("GET", "/v1/audit/events", "query the trail")
            .query(query("from", count(), false))
            .query(query("to", count(), false))
            .query(query("since", time(), false))
            .query(query("until", time(), false))
            .query(query("user", filter(), false))
            .query(query("patient_id", filter(), false))
            .query(query("action", filter(), false))
            .query(query("limit", count(), false))
            .ok(
                200,
                json(
                    "events",
                    object(vec![("events", list(open_object()))], &["events"]),
                ),
            ),
        op(
            "GET",
            "/v1/collections/patients/records/{id}/disclosures",
            "accounting of disclosures (§164.528)",
        )
        .query(query("since", time(), false))
        .ok(200, {
            let mut r = json(
                "the report (`Accept: text/plain` for the rendered text)",
                object(
                    vec![
                        ("patient_id", string().into()),
                        ("since", string().into()),
                        ("disclosures", any().into()),
                    ],
                    &["patient_id", "since", "disclosures"],
                ),
            );
            r.content.extend(media("", &["text/plain"]).content);
            r
        }),
        op(
            "POST",
            "/v1/collections/patients/records/{id}/shred",
            "crypto-shred a patient and linked records",
        )
        .body(object(vec![("confirm", string().into())], &["confirm"]))
        .ok(
            200,
            json(
                "shredded",
                object(
                    vec![
                        ("patient_id", string().into()),
                        (
                            "shredded",
                            list(object(
                                vec![("collection", string().into()), ("id", string().into())],
                                &["collection", "id"],
                            )),
                        ),
                    ],
                    &["patient_id", "shredded"],
                ),
            ),
        )
        .errors(&[404]),
    ]
}

pub(super) fn breach() -> Vec<Op> {
    let incident = || object(vec![("incident", named("Incident"))], &["incident"]);
    let lifted = |status: bool| {
        let mut props = vec![
            ("id", string().into()),
            ("lifted", super::schemas::boolean().into()),
        ];
        let mut required = vec!["id", "lifted"];
        if status {
            props.push(("status", string().into()));
            required.push("status");
        }
        object(props, &required)
    };
    vec![
        op("POST", "/v1/lockdown", "isolate: lock down a scope")
            .body(object(
                vec![
                    (
                        "scope",
                        string()
                            .description(Some(
                                "`vault`, `user:ID`, `token:ID`, `ip:CIDR` or `collection:NAME`",
                            ))
                            .into(),
                    ),
                    ("reason", string().into()),
                    ("incident_id", string().into()),
                ],
                &["scope", "reason"],
            ))
            .ok(
                201,
                json(
                    "locked down",
                    object(
                        vec![
                            ("lockdown", named("Lockdown")),
                            ("sessions_revoked", count().into()),
                        ],
                        &["lockdown", "sessions_revoked"],
                    ),
                ),
            )
            .links(
                201,
                &[("POST", "/v1/lockdown/{id}/lift")],
                &[("id", "$response.body#/lockdown/id")],
            )
            .errors(&[404]),
        op("GET", "/v1/lockdown", "the active lockdowns").ok(
            200,
            json(
                "lockdowns",
                object(vec![("lockdowns", list(named("Lockdown")))], &["lockdowns"]),
            ),
        ),
        op(
            "POST",
            "/v1/lockdown/{id}/lift",
            "lift (or approve lifting) a lockdown",
        )
        .ok(200, json("lifted", lifted(false)))
        .ok(202, json("waiting for a second responder", lifted(true)))
        .errors(&[404]),
        op("POST", "/v1/incidents", "declare an incident")
            .body(object(
                vec![
                    (
                        "severity",
                        string()
                            .enum_values(Some(["low", "medium", "high", "critical"]))
                            .into(),
                    ),
                    ("summary", string().into()),
                ],
                &["severity", "summary"],
            ))
            .ok(201, json("declared", incident()))
            .links(
                201,
                &[
                    ("GET", "/v1/incidents/{id}"),
                    ("POST", "/v1/incidents/{id}/steps"),
                ],
                &[("id", "$response.body#/incident/id")],
            ),
        op(
            "GET",
            "/v1/incidents/{id}",
            "an incident, its timeline and deadlines",
        )
        .ok(
            200,
            json(
                "the incident",
                object(
                    vec![
                        ("incident", named("Incident")),
                        ("status", any().into()),
                        ("deadlines", any().into()),
                    ],
                    &["incident", "status", "deadlines"],
                ),
            ),
        )
        .errors(&[404]),
        op(
            "POST",
            "/v1/incidents/{id}/steps",
            "add a step to the timeline",
        )
        .body(object(
            vec![("kind", string().into()), ("detail", string().into())],
            &["kind"],
        ))
        .ok(200, json("the incident", incident()))
        .errors(&[404]),
    ]
}

pub(super) fn telehealth() -> Vec<Op> {
    let device = || query("device", string(), false);
    vec![
        op("POST", "/v1/telehealth/sessions", "schedule a call")
            .body(object(
                vec![
                    ("patient_id", string().into()),
                    ("clinician_ids", list(string())),
                    ("patient_user", nullable_string().into()),
                    ("expires_at", time().into()),
                ],
                &["patient_id", "clinician_ids", "expires_at"],
            ))
            .ok(
                201,
                json(
                    "scheduled",
                    object(
                        vec![("id", string().into()), ("expires_at", string().into())],
                        &["id", "expires_at"],
                    ),
                ),
            )
            .links(
                201,
                &[
                    ("GET", "/v1/telehealth/sessions/{id}"),
                    ("POST", "/v1/telehealth/sessions/{id}/devices"),
                    ("POST", "/v1/telehealth/sessions/{id}/key-packages"),
                    ("GET", "/v1/telehealth/sessions/{id}/key-packages"),
                    ("DELETE", "/v1/telehealth/sessions/{id}/participants/{user}"),
                ],
                &[("id", "$response.body#/id")],
            )
            .errors(&[404]),
        op(
            "GET",
            "/v1/telehealth/sessions/{id}",
            "roster, epoch, who rekeys next",
        )
        .ok(
            200,
            json(
                "the call",
                object(
                    vec![
                        ("id", string().into()),
                        ("patient_user", nullable_string().into()),
                        ("clinicians", any().into()),
                        ("roster", any().into()),
                        ("epoch", count().into()),
                        ("min_epoch", count().into()),
                        ("rekey_by", any().into()),
                    ],
                    &["id", "clinicians", "roster", "epoch", "min_epoch"],
                ),
            ),
        )
        .errors(&[410]),
        op(
            "POST",
            "/v1/telehealth/sessions/{id}/devices",
            "register a device",
        )
        .body(object(
            vec![("public_key", string().into())],
            &["public_key"],
        ))
        .ok(
            201,
            json(
                "registered",
                object(vec![("device_id", string().into())], &["device_id"]),
            ),
        )
        .errors(&[409, 410]),
        op(
            "POST",
            "/v1/telehealth/sessions/{id}/key-packages",
            "relay sealed key packages",
        )
        .body(object(
            vec![
                ("device", string().into()),
                ("packages", list(open_object())),
            ],
            &["device", "packages"],
        ))
        .ok(
            202,
            json(
                "queued",
                object(vec![("queued", count().into())], &["queued"]),
            ),
        )
        .errors(&[410]),
        op(
            "GET",
            "/v1/telehealth/sessions/{id}/key-packages",
            "take a device's packages",
        )
        .query(device())
        .ok(
            200,
            json(
                "packages",
                object(vec![("packages", list(any()))], &["packages"]),
            ),
        )
        .errors(&[410]),
        op(
            "DELETE",
            "/v1/telehealth/sessions/{id}/participants/{user}",
            "remove a participant",
        )
        .ok(
            200,
            json(
                "removed",
                object(
                    vec![
                        ("removed_devices", list(string())),
                        ("min_epoch", count().into()),
                        ("rekey_by", any().into()),
                    ],
                    &["removed_devices", "min_epoch"],
                ),
            ),
        )
        .errors(&[410]),
        op(
            "GET",
            "/v1/telehealth/sessions/{id}/signal",
            "signalling (WebSocket)",
        )
        .query(device())
        .ok(101, super::schemas::empty("switching to the WebSocket"))
        .errors(&[410]),
    ]
}

pub(super) fn pages() -> Vec<Op> {
    [
        ("/telehealth/", "text/html"),
        ("/telehealth/app.js", "text/javascript"),
        ("/telehealth/worker.js", "text/javascript"),
        ("/telehealth/style.css", "text/css"),
        (
            "/telehealth/pkg/phivault_telehealth_wasm.js",
            "text/javascript",
        ),
        (
            "/telehealth/pkg/phivault_telehealth_wasm_bg.wasm",
            "application/wasm",
        ),
    ]
    .into_iter()
    .map(|(path, ty)| {
        op("GET", path, "the telehealth page")
            .public()
            .ok(200, media("file", &[ty]))
    })
    .collect()
}
