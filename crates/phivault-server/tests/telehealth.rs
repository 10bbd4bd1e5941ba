//! Telehealth over HTTP on the embedded server: who may join, key packages relayed to current
//! participants only, SFrame end to end with keys the server never sees, removal forcing a new
//! epoch announced over the signalling WebSocket, and the audit trail of joins, leaves and
//! epochs (ids only, no key material).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use phivault_telehealth::{
    CipherSuite, DeviceId, DeviceKeyPair, KeyPackage, OpenError, Participant, Session, SessionId,
    SframeReceiver, UserId,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SUITE: CipherSuite = CipherSuite::AesGcm128Sha256;

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

struct Peer {
    token: String,
    keys: DeviceKeyPair,
    device: String,
}

async fn register(app: &common::App, call: &str, token: &str) -> Peer {
    let keys = DeviceKeyPair::generate(&mut rng());
    let (s, b) = app
        .send_as(
            token,
            Method::POST,
            &format!("/v1/telehealth/sessions/{call}/devices"),
            Some(json!({"public_key": keys.public_key()})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    Peer {
        token: token.to_owned(),
        keys,
        device: b["device_id"].as_str().unwrap().to_owned(),
    }
}

async fn roster(app: &common::App, call: &str, token: &str) -> (Vec<Participant>, Value) {
    let (s, b) = app
        .send_as(
            token,
            Method::GET,
            &format!("/v1/telehealth/sessions/{call}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (serde_json::from_value(b["roster"].clone()).unwrap(), b)
}

async fn post_packages(
    app: &common::App,
    call: &str,
    p: &Peer,
    packages: &[KeyPackage],
) -> (u16, Value) {
    app.send_as(
        &p.token,
        Method::POST,
        &format!("/v1/telehealth/sessions/{call}/key-packages"),
        Some(json!({"device": p.device, "packages": packages})),
    )
    .await
}

async fn fetch_packages(app: &common::App, call: &str, p: &Peer) -> Vec<KeyPackage> {
    let (s, b) = app
        .send_as(
            &p.token,
            Method::GET,
            &format!(
                "/v1/telehealth/sessions/{call}/key-packages?device={}",
                p.device
            ),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    serde_json::from_value(b["packages"].clone()).unwrap()
}

fn frame(from: &Session, to: &Session, pt: &[u8]) -> Result<Vec<u8>, OpenError> {
    let mut tx = from.sframe_sender().unwrap();
    let mut rx = SframeReceiver::new(SUITE);
    to.install_receiver_keys(&mut rx).unwrap();
    let mut f = Vec::new();
    tx.seal(b"", pt, &mut f).unwrap();
    let mut out = Vec::new();
    rx.open(b"", &f, &mut out).map(|_| out)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// A signalling socket over TLS, authenticated with the browser's subprotocol form.
async fn connect(app: &common::App, call: &str, p: &Peer) -> Ws {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject as _;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(app.srv.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(app.srv.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    let url = format!(
        "wss://localhost:{}/v1/telehealth/sessions/{call}/signal?device={}",
        app.srv.addr.port(),
        p.device
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("phivault.bearer, phivault.bearer.{}", p.token)
            .parse()
            .unwrap(),
    );
    let (ws, resp) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(
        resp.headers()["sec-websocket-protocol"],
        "phivault.bearer",
        "the server selects the bearer subprotocol"
    );
    ws
}

async fn next_json(ws: &mut Ws, ty: &str) -> Value {
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("signalling message in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == ty {
                return v;
            }
        }
    }
}

async fn events(app: &common::App, action: &str) -> Vec<Value> {
    let (s, b) = app
        .send(
            Method::GET,
            &format!("/v1/audit/events?action={action}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn call_with_removal_and_epochs_over_http() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let patient = app
        .create_patient(json!({"name": "Tele Patient", "birth_date": "1980-02-03"}))
        .await;
    app.put_role(json!({"role": "tele-clinician", "permissions": ["telehealth:patients"]}))
        .await;
    for u in ["dr-a", "dr-b"] {
        app.add_user(u, &["tele-clinician"]).await;
    }
    app.add_user("pat", &[]).await;
    app.add_user("nobody", &[]).await;
    let dr_a = app.session("dr-a").await;
    let dr_b = app.session("dr-b").await;
    let pat = app.session("pat").await;
    let nobody = app.session("nobody").await;
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let create = json!({
        "patient_id": patient, "clinician_ids": ["dr-a", "dr-b"],
        "patient_user": "pat", "expires_at": expires.to_string(),
    });
    // Neither the patient (no roles) nor a role-less user may create a call.
    for t in [&pat, &nobody] {
        let (s, _) = app
            .send_as(
                t,
                Method::POST,
                "/v1/telehealth/sessions",
                Some(create.clone()),
            )
            .await;
        assert_eq!(s, 403);
    }
    let (s, b) = app
        .send_as(&dr_a, Method::POST, "/v1/telehealth/sessions", Some(create))
        .await;
    assert_eq!(s, 201, "{b}");
    let call = b["id"].as_str().unwrap().to_owned();
    let sid = SessionId::new(call.clone()).unwrap();
    app.srv.state.telehealth.enable_tap();

    // Outsiders learn nothing, not even that the call exists.
    let (s, b) = app
        .send_as(
            &nobody,
            Method::GET,
            &format!("/v1/telehealth/sessions/{call}"),
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("not_participant"))
    );

    let a = register(&app, &call, &dr_a).await;
    let p = register(&app, &call, &pat).await;
    let b_peer = register(&app, &call, &dr_b).await;
    let mut ws_p = connect(&app, &call, &p).await;
    let mut ws_b = connect(&app, &call, &b_peer).await;

    // dr-a starts the epoch and seals it to the others through the relay.
    let (list, _) = roster(&app, &call, &dr_a).await;
    assert_eq!(list.len(), 3);
    let me = list.iter().find(|x| x.device.as_str() == a.device).unwrap();
    let mut s_a = Session::create(&mut rng(), sid.clone(), me.clone(), SUITE, 0);
    let others: Vec<Participant> = list
        .iter()
        .filter(|x| x.device.as_str() != a.device)
        .cloned()
        .collect();
    s_a.apply_join(others.clone()).unwrap();
    let ids: Vec<DeviceId> = others.iter().map(|x| x.device.clone()).collect();
    let pkgs = s_a.seal_for(&mut rng(), &a.keys, &ids).unwrap();
    // A package for a device outside the call is refused.
    let mut stray = pkgs[0].clone();
    stray.recipient_device = DeviceId::new("d_not_here").unwrap();
    assert_eq!(post_packages(&app, &call, &a, &[stray]).await.0, 400);
    // Nobody may post as another user's device.
    assert_eq!(post_packages(&app, &call, &b_peer, &pkgs).await.0, 400);
    let (s, b) = post_packages(&app, &call, &a, &pkgs).await;
    assert_eq!(s, 202, "{b}");
    let note = next_json(&mut ws_p, "key_packages").await;
    assert_eq!(note["from_device"], a.device.as_str());

    let join = |peer: &Peer, pk: Vec<KeyPackage>, list: Vec<Participant>| {
        Session::from_package(
            &pk[0],
            &peer.keys,
            &sid,
            DeviceId::new(peer.device.clone()).unwrap(),
            list,
            SUITE,
            0,
        )
        .unwrap()
    };
    let s_p = join(&p, fetch_packages(&app, &call, &p).await, list.clone());
    let mut s_b = join(
        &b_peer,
        fetch_packages(&app, &call, &b_peer).await,
        list.clone(),
    );
    assert_eq!(
        frame(&s_a, &s_p, b"video frame 1").unwrap(),
        b"video frame 1"
    );
    assert_eq!(frame(&s_p, &s_b, b"audio frame").unwrap(), b"audio frame");

    // Signalling: stamped with the real origin; a forged `from_device` is overwritten.
    ws_p.send(Message::Text(
        json!({"type": "offer", "to": b_peer.device, "sdp": "v=0", "from_device": a.device})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let offer = next_json(&mut ws_b, "offer").await;
    assert_eq!(offer["from_device"], p.device.as_str());
    assert_eq!(offer["from_user"], "pat");

    // The patient may not remove a clinician; dr-a removes the patient.
    let (s, _) = app
        .send_as(
            &pat,
            Method::DELETE,
            &format!("/v1/telehealth/sessions/{call}/participants/dr-b"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, b) = app
        .send_as(
            &dr_a,
            Method::DELETE,
            &format!("/v1/telehealth/sessions/{call}/participants/pat"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["min_epoch"], 2);
    let removed = next_json(&mut ws_b, "participant_removed").await;
    assert_eq!(removed["user"], "pat");
    let rekey_by = removed["rekey_by"].as_str().unwrap().to_owned();
    let new_list: Vec<Participant> = serde_json::from_value(removed["roster"].clone()).unwrap();
    assert_eq!(new_list.len(), 2);
    // The removed patient's socket is told and closed.
    assert_eq!(
        next_json(&mut ws_p, "participant_removed").await["user"],
        "pat"
    );
    // Whoever `rekey_by` names starts the fresh epoch (here either clinician device).
    let (leader, leader_keys, follower) = if rekey_by == a.device {
        (&mut s_a, &a.keys, (&mut s_b, &b_peer))
    } else {
        (&mut s_b, &b_peer.keys, (&mut s_a, &a))
    };
    let fresh = leader
        .remove_user(&mut rng(), leader_keys, &UserId::new("pat").unwrap(), 1)
        .unwrap();
    let leader_peer = if rekey_by == a.device { &a } else { &b_peer };
    // A stale package (the old epoch) is refused after the removal.
    assert_eq!(
        post_packages(&app, &call, leader_peer, &pkgs[..1]).await.0,
        400
    );
    let (s, b) = post_packages(&app, &call, leader_peer, &fresh).await;
    assert_eq!(s, 202, "{b}");
    let (fs, fpeer) = follower;
    let got = fetch_packages(&app, &call, fpeer).await;
    fs.accept(&got[0], &fpeer.keys, new_list, 1).unwrap();
    assert_eq!(fs.epoch(), 2);
    assert_eq!(frame(leader, fs, b"after").unwrap(), b"after");
    // The removed patient cannot open epoch-2 frames and is out of the API.
    assert_eq!(frame(leader, &s_p, b"after"), Err(OpenError::UnknownKey));
    let (s, _) = app
        .send_as(
            &pat,
            Method::GET,
            &format!("/v1/telehealth/sessions/{call}"),
            None,
        )
        .await;
    assert_eq!(s, 403);

    // The relay saw packages and signalling, never an epoch secret or a plaintext frame.
    let tapped = app.srv.state.telehealth.tapped();
    assert!(tapped.len() >= 3);
    for t in &tapped {
        assert!(!t.windows(13).any(|w| w == b"video frame 1"));
    }

    // Audit: joins (device ids), epochs (numbers), leaves; never key material.
    let joined = events(&app, "telehealth_joined").await;
    assert_eq!(joined.len(), 3);
    assert!(
        joined
            .iter()
            .any(|e| e["context"]["device_id"] == p.device.as_str())
    );
    assert!(joined.iter().all(|e| e["patient_id"] == patient.as_str()));
    let epochs = events(&app, "telehealth_epoch").await;
    let names: Vec<&str> = epochs
        .iter()
        .map(|e| e["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("/v1/telehealth/sessions/{call}/epochs/1"),
            format!("/v1/telehealth/sessions/{call}/epochs/2")
        ]
    );
    let left = events(&app, "telehealth_left").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["context"]["device_id"], p.device.as_str());
    assert_eq!(events(&app, "telehealth_session_created").await.len(), 1);
    let all = serde_json::to_string(&(joined, epochs, left)).unwrap();
    for k in [&a.keys, &p.keys, &b_peer.keys] {
        assert!(!all.contains(&k.public_key().to_base64url()));
    }
    let denied = events(&app, "telehealth_denied").await;
    assert!(denied.iter().any(|e| e["user"] == "nobody"));
}
