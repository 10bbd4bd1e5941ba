//! Access and logs: wildcard PHI roles, the admin token, break-glass
//! holders, unused permissions, PHI in log files.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_phi_role_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    policy(
        &v,
        "ops",
        json!({"role": "ops", "admin": true, "permissions": ["view:*", "read_audit:audit"]}),
    );
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "access.wildcard_phi",
        "164.312(a)(1)",
        "role `ops` grants `view:*`",
    );
    assert!(out.contains("pitfall: Overpermissioned Accounts"), "{out}");
}

/// The built-in admin token reading and writing records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_used_for_phi_warns() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    let srv = v.serve();
    post(
        &srv,
        &v.token,
        "/v1/collections/patients/records",
        json!({"fields": {"name": "Pat Example", "birth_date": "1980-01-02"}}),
    )
    .await;
    drop(srv);
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "auth.admin_token",
        "164.312(d)",
        "used for 1 PHI accesses",
    );
    assert!(
        !out.contains("Pat Example") && !out.contains("1980-01-02"),
        "{out}"
    );
}

/// Every user holds the break-glass role, and nobody used what they hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_for_everyone_and_unused_permissions_warn() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    policy(
        &v,
        "er",
        json!({"role": "er", "permissions": ["view:patients", "export:patients"], "break_glass": true}),
    );
    let srv = v.serve();
    for n in 0..4 {
        post(
            &srv,
            &v.token,
            "/v1/users",
            json!({"id": format!("u{n}"), "display_name": "x", "roles": ["er"]}),
        )
        .await;
    }
    drop(srv);
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "access.break_glass",
        "164.312(a)(2)(ii)",
        "4 of 4 users hold a break-glass role (`er`)",
    );
    assert_line(
        &out,
        "WARN",
        "access.unused_permissions",
        "164.312(a)(1)",
        "role `er`: `export:patients` (4 users)",
    );
}

/// Break-glass grants that outlast a shift's emergency warn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_break_glass_grants_warn() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    policy(
        &v,
        "er",
        json!({"role": "er", "permissions": ["view:patients"], "break_glass": true}),
    );
    config(&v, "break_glass_minutes = 300\n");
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "access.break_glass",
        "164.312(a)(2)(ii)",
        "break-glass grants last 300 minutes",
    );
}

/// PHI written into the server's log directory around the scrubber fails;
/// redaction markers warn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phi_in_log_files_fails() {
    let v = Vault::init(Backend::Sqlite).await.unwrap();
    protect(&v);
    let logs = v.data_dir().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("phivault.log"),
        "2026-12-02T14:17:43.123456Z DEBUG phivault_server::vault: lookup ssn=078-05-1120 email=zebulon.canary@example.net\n",
    )
    .unwrap();
    let (ok, out) = check(&v, &[]);
    assert!(!ok);
    assert_line(
        &out,
        "FAIL",
        "logs.no_phi",
        "164.312(a)(2)(iv)",
        "possible PHI values in clear",
    );
    assert!(
        out.contains("pitfall: PHI in log files \"just for debugging\""),
        "{out}"
    );
    for leaked in common::CANARY_STRINGS {
        assert!(!out.contains(leaked), "the report repeats `{leaked}`");
    }
    std::fs::write(
        logs.join("phivault.log"),
        "2026-12-02T14:17:43.123456Z  WARN phivault_server::vault: lookup failed key=[REDACTED:ssn]\n",
    )
    .unwrap();
    let (_, out) = check(&v, &[]);
    assert_line(
        &out,
        "WARN",
        "logs.no_phi",
        "164.312(a)(2)(iv)",
        "`[REDACTED:…]`",
    );
}
