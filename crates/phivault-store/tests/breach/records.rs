//! Incidents, patient flags and the alert outbox, on every backend.

use phivault_store::{AlertRow, ErrorKind, IncidentRow, Store};

fn incident(id: &str, declared_at: i64) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        severity: "high".into(),
        summary: "bulk export by a clerk account".into(),
        status: "open".into(),
        declared_by: "secops@clinic.example".into(),
        declared_at,
        updated_at: declared_at,
        data: r#"{"timeline": [], "b": 1, "a": 2}"#.into(),
    }
}

fn alert(id: &str, created_at: i64, next_attempt_at: i64) -> AlertRow {
    AlertRow {
        id: id.into(),
        destination: "https://hooks.example/T000/secret".into(),
        payload: format!(r#"{{"alert":"{id}"}}"#),
        created_at,
        attempts: 0,
        next_attempt_at,
        delivered_at: None,
        last_error: None,
    }
}

/// Incidents: duplicates, order, compare-and-swap.
pub(super) async fn incidents(s: &dyn Store) {
    let (i1, i2, i3) = (incident("i1", 10), incident("i2", 30), incident("i3", 20));
    for i in [&i1, &i2, &i3] {
        s.insert_incident(i.clone()).await.unwrap();
    }
    let e = s.insert_incident(incident("i1", 99)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(s.get_incident("i1").await.unwrap(), Some(i1.clone()));
    assert!(s.get_incident("nope").await.unwrap().is_none());
    assert_eq!(
        s.list_incidents().await.unwrap(),
        vec![i2.clone(), i3.clone(), i1.clone()],
        "newest first"
    );

    let data = r#"{"z": "kept as written",   "a": [1, 2]}"#;
    s.update_incident("i1", "contained", data, 50, 10)
        .await
        .unwrap();
    let got = s.get_incident("i1").await.unwrap().unwrap();
    assert_eq!(
        (got.status.as_str(), got.data.as_str(), got.updated_at),
        ("contained", data, 50)
    );
    assert_eq!((got.summary, got.declared_at), (i1.summary.clone(), 10));
    let stale = s
        .update_incident("i1", "closed", "{}", 60, 10)
        .await
        .unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert_eq!(
        s.get_incident("i1").await.unwrap().unwrap().status,
        "contained"
    );
    let gone = s
        .update_incident("nope", "closed", "{}", 60, 10)
        .await
        .unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    s.update_incident("i1", "closed", "{}", 60, 50)
        .await
        .unwrap();
}

/// One flag per patient; setting is idempotent and replaces.
pub(super) async fn flags(s: &dyn Store) {
    assert!(s.patient_flags().await.unwrap().is_empty());
    s.set_patient_flag("p2", "honey", 1).await.unwrap();
    s.set_patient_flag("p1", "vip", 2).await.unwrap();
    s.set_patient_flag("p1", "vip", 3).await.unwrap();
    assert_eq!(
        s.patient_flags().await.unwrap(),
        vec![("p1".into(), "vip".into()), ("p2".into(), "honey".into())]
    );
    s.set_patient_flag("p1", "employee", 4).await.unwrap();
    assert!(s.clear_patient_flag("p2").await.unwrap());
    assert!(!s.clear_patient_flag("p2").await.unwrap());
    assert_eq!(
        s.patient_flags().await.unwrap(),
        vec![("p1".to_owned(), "employee".to_owned())]
    );
}

/// The outbox: due filtering and order, delivery, rescheduling, backlog.
pub(super) async fn alerts(s: &dyn Store) {
    assert_eq!(s.alert_backlog().await.unwrap(), 0);
    let a1 = alert("a1", 10, 100);
    let a2 = alert("a2", 5, 200);
    let a3 = alert("a3", 20, 50);
    let a4 = alert("a4", 1, 300);
    for a in [&a1, &a2, &a3, &a4] {
        s.enqueue_alert(a.clone()).await.unwrap();
    }
    let e = s.enqueue_alert(alert("a1", 0, 0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(s.alert_backlog().await.unwrap(), 4);
    let ids = |v: Vec<AlertRow>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert!(s.due_alerts(49, 10).await.unwrap().is_empty());
    assert_eq!(ids(s.due_alerts(100, 10).await.unwrap()), ["a1", "a3"]);
    assert_eq!(
        s.due_alerts(200, 10).await.unwrap(),
        vec![a2.clone(), a1.clone(), a3.clone()],
        "oldest first, rows intact"
    );
    assert_eq!(ids(s.due_alerts(1_000, 2).await.unwrap()), ["a4", "a2"]);

    assert!(
        s.reschedule_alert("a2", 1, 500, "http status 503")
            .await
            .unwrap()
    );
    assert!(
        s.reschedule_alert("a3", u32::MAX, 500, "timeout")
            .await
            .unwrap()
    );
    assert_eq!(ids(s.due_alerts(200, 10).await.unwrap()), ["a1"]);
    let due = s.due_alerts(500, 10).await.unwrap();
    assert_eq!(ids(due.clone()), ["a4", "a2", "a1", "a3"]);
    assert_eq!(
        (due[1].attempts, due[1].next_attempt_at),
        (1, 500),
        "rescheduled"
    );
    assert_eq!(due[1].last_error.as_deref(), Some("http status 503"));
    assert_eq!(due[3].attempts, u32::MAX);

    assert!(s.mark_alert_delivered("a1", 150).await.unwrap());
    assert!(!s.mark_alert_delivered("a1", 151).await.unwrap());
    assert!(!s.mark_alert_delivered("nope", 151).await.unwrap());
    assert!(!s.reschedule_alert("a1", 2, 900, "late").await.unwrap());
    assert!(!s.reschedule_alert("nope", 2, 900, "late").await.unwrap());
    assert_eq!(
        ids(s.due_alerts(10_000, 10).await.unwrap()),
        ["a4", "a2", "a3"]
    );
    assert_eq!(s.alert_backlog().await.unwrap(), 3);
}
