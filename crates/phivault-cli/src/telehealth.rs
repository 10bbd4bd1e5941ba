//! `phivault telehealth demo`: an in-process server and three in-process devices (clinician,
//! patient, interpreter) exchanging synthetic SFrame media frames through the server's
//! signalling relay; shows the epochs, a leave, and that the relay only saw ciphertext.

#![allow(
    clippy::indexing_slicing,
    reason = "demo: three devices and three tokens built just above, indices are constants below 3"
)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;
use futures_util::{SinkExt, StreamExt};
use phivault_server::SystemClock;
use phivault_telehealth::{
    CipherSuite, DeviceId, DeviceKeyPair, KeyPackage, Participant, Session, SessionId,
    SframeReceiver, UserId, safety_number,
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::out::{self, CliResult};

/// `phivault telehealth …`.
#[derive(Debug, Subcommand)]
pub enum TelehealthCmd {
    /// Run a throwaway call between in-process devices through an in-process relay.
    Demo,
}

/// Runs a telehealth subcommand.
pub async fn run(cmd: TelehealthCmd) -> CliResult {
    match cmd {
        TelehealthCmd::Demo => demo().await,
    }
}

const SUITE: CipherSuite = CipherSuite::AesGcm128Sha256;
const MARK: &[u8] = b"SYNTHETIC-VIDEO-FRAME";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("{path}: {status} {v}").into());
        }
        Ok(v)
    }
}

struct Device {
    name: &'static str,
    user: String,
    token: String,
    keys: DeviceKeyPair,
    id: String,
    session: Option<Session>,
    rx: SframeReceiver,
    ws: Ws,
}

async fn connect(
    cert_pem: &str,
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
) -> Result<Ws, Box<dyn std::error::Error + Send + Sync>> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(c?)?;
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await?;
    let mut req = format!("wss://localhost:{}{path}", addr.port()).into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::client_async(req, tls).await?;
    Ok(ws)
}

async fn next_of(ws: &mut Ws, ty: &str) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await?
            .ok_or("signalling closed")??;
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str())?;
            if v.get("type").and_then(Value::as_str) == Some(ty) {
                return Ok(v);
            }
        }
    }
}

/// Seals a synthetic frame on `from` and sends it through the relay; returns it as sent.
async fn send_frame(
    from: &mut Device,
    n: u32,
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let s = from.session.as_ref().ok_or("no session")?;
    let mut tx = s.sframe_sender()?;
    let mut pt = MARK.to_vec();
    pt.extend_from_slice(format!(" #{n} from {}", from.name).as_bytes());
    let mut ct = Vec::new();
    tx.seal(b"", &pt, &mut ct)?;
    let msg = json!({"type": "frame", "data": STANDARD.encode(&ct)});
    from.ws.send(Message::Text(msg.to_string().into())).await?;
    Ok(ct)
}

/// Receives the next relayed frame on `to` and tries to open it.
async fn receive_frame(
    to: &mut Device,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let v = next_of(&mut to.ws, "frame").await?;
    let ct = STANDARD.decode(v.get("data").and_then(Value::as_str).unwrap_or_default())?;
    if let Some(s) = &to.session {
        s.install_receiver_keys(&mut to.rx)?;
    }
    let mut out = Vec::new();
    Ok(match to.rx.open(b"", &ct, &mut out) {
        Ok(_) => format!("decrypted {:?}", String::from_utf8_lossy(&out)),
        Err(e) => format!("cannot decrypt ({e})"),
    })
}

async fn demo() -> CliResult {
    let dir = tempfile::tempdir()?;
    let srv =
        phivault_server::embedded::start(&dir.path().join("data"), None, Arc::new(SystemClock))
            .await?;
    let api = Api {
        http: crate::demo::client(&srv.cert_pem)?,
        base: srv.url(),
    };
    let admin = srv.admin_token.as_str().to_owned();
    srv.state.telehealth.enable_tap();
    out::line(format_args!(
        "phivault telehealth demo: relay at {}",
        srv.url()
    ));
    let post = reqwest::Method::POST;
    let patient = api
        .call(
            &admin,
            post.clone(),
            "/v1/collections/patients/records",
            Some(json!({"fields": {"name": "Demo Patient", "birth_date": "1990-05-06"}})),
        )
        .await?;
    let patient_id = patient
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    api.call(
        &admin,
        reqwest::Method::PUT,
        "/v1/roles/tele-clinician",
        Some(json!({"role": "tele-clinician", "permissions": ["telehealth:patients"]})),
    )
    .await?;
    let mut tokens = Vec::new();
    for (user, roles) in [
        ("dr-demo", vec!["tele-clinician"]),
        ("pat-demo", vec![]),
        ("interp-demo", vec!["tele-clinician"]),
    ] {
        api.call(
            &admin,
            post.clone(),
            "/v1/users",
            Some(json!({"id": user, "display_name": user, "roles": roles})),
        )
        .await?;
        let t = api
            .call(
                &admin,
                post.clone(),
                &format!("/v1/users/{user}/tokens"),
                None,
            )
            .await?;
        let t = t
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let s = api.call(&t, post.clone(), "/v1/sessions", None).await?;
        tokens.push((
            user,
            s.get("token")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let expires = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let created = api
        .call(
            &tokens[0].1,
            post.clone(),
            "/v1/telehealth/sessions",
            Some(json!({
                "patient_id": patient_id, "clinician_ids": ["dr-demo", "interp-demo"],
                "patient_user": "pat-demo", "expires_at": expires,
            })),
        )
        .await?;
    let call = created
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let sid = SessionId::new(call.clone())?;
    out::line(format_args!(
        "1. dr-demo created call {call} (decision point: telehealth:patients on the patient)"
    ));

    let mut devices = Vec::new();
    for ((user, token), name) in tokens.iter().zip(["clinician", "patient", "interpreter"]) {
        let keys = DeviceKeyPair::generate(&mut rng());
        let r = api
            .call(
                token,
                post.clone(),
                &format!("/v1/telehealth/sessions/{call}/devices"),
                Some(json!({"public_key": keys.public_key()})),
            )
            .await?;
        let id = r
            .get("device_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let ws = connect(
            &srv.cert_pem,
            srv.addr,
            &format!("/v1/telehealth/sessions/{call}/signal?device={id}"),
            token,
        )
        .await?;
        out::line(format_args!(
            "   {name} ({user}) registered device {id}, key fingerprint {}",
            keys.public_key().fingerprint()
        ));
        devices.push(Device {
            name,
            user: (*user).to_owned(),
            token: token.clone(),
            keys,
            id,
            session: None,
            rx: SframeReceiver::new(SUITE),
            ws,
        });
    }
    let roster_of = |v: &Value| -> Result<Vec<Participant>, serde_json::Error> {
        serde_json::from_value(v.get("roster").cloned().unwrap_or_default())
    };
    let info = api
        .call(
            &tokens[0].1,
            reqwest::Method::GET,
            &format!("/v1/telehealth/sessions/{call}"),
            None,
        )
        .await?;
    let roster = roster_of(&info)?;
    out::line(format_args!(
        "   safety number clinician/patient (compare aloud): {}",
        safety_number(devices[0].keys.public_key(), devices[1].keys.public_key())
    ));

    // The clinician starts epoch 0, admits the others (join ratchet -> epoch 1), seals it.
    let (first, rest) = devices.split_first_mut().ok_or("no devices")?;
    let me = roster
        .iter()
        .find(|p| p.device.as_str() == first.id)
        .ok_or("not in roster")?;
    let mut s = Session::create(&mut rng(), sid.clone(), me.clone(), SUITE, 0);
    s.apply_join(
        roster
            .iter()
            .filter(|p| p.device.as_str() != first.id)
            .cloned()
            .collect(),
    )?;
    let ids: Vec<DeviceId> = rest
        .iter()
        .map(|d| DeviceId::new(d.id.clone()))
        .collect::<Result<_, _>>()?;
    let pk = s.seal_for(&mut rng(), &first.keys, &ids)?;
    api.call(
        &first.token,
        post.clone(),
        &format!("/v1/telehealth/sessions/{call}/key-packages"),
        Some(json!({"device": first.id, "packages": pk})),
    )
    .await?;
    first.session = Some(s);
    for d in rest.iter_mut() {
        let got = api
            .call(
                &d.token,
                reqwest::Method::GET,
                &format!(
                    "/v1/telehealth/sessions/{call}/key-packages?device={}",
                    d.id
                ),
                None,
            )
            .await?;
        let pk: Vec<KeyPackage> =
            serde_json::from_value(got.get("packages").cloned().unwrap_or_default())?;
        let p = pk.first().ok_or("no package")?;
        d.session = Some(Session::from_package(
            p,
            &d.keys,
            &sid,
            DeviceId::new(d.id.clone())?,
            roster.clone(),
            SUITE,
            0,
        )?);
    }
    out::line(
        "2. epoch 1: HPKE (auth mode) packages relayed to each device; the server cannot open them",
    );
    let mut sent = Vec::new();
    for i in 0..3 {
        let (a, b) = (i, (i + 1) % 3);
        sent.push(send_frame(&mut devices[a], 1).await?);
        let got = receive_frame(&mut devices[b]).await?;
        let (na, nb) = (devices[a].name, devices[b].name);
        out::line(format_args!("   {na} -> {nb}: {got}"));
        let c = (i + 2) % 3;
        let _ = receive_frame(&mut devices[c]).await?;
    }

    // The interpreter leaves: the server drops their device and names who starts epoch 2.
    let r = api
        .call(
            &tokens[0].1,
            reqwest::Method::DELETE,
            &format!("/v1/telehealth/sessions/{call}/participants/interp-demo"),
            None,
        )
        .await?;
    out::line(format_args!("3. dr-demo removed interp-demo: {r}"));
    let notice = next_of(&mut devices[1].ws, "participant_removed").await?;
    let new_roster = roster_of(&notice)?;
    let rekey_by = notice
        .get("rekey_by")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let leader = devices
        .iter()
        .position(|d| d.id == rekey_by)
        .ok_or("rekey_by unknown")?;
    let follower = 1 - leader; // the clinician (0) and the patient (1) remain
    let (l, f) = if leader == 0 {
        let (a, b) = devices.split_at_mut(1);
        (&mut a[0], &mut b[0])
    } else {
        let (a, b) = devices.split_at_mut(1);
        (&mut b[0], &mut a[0])
    };
    let ls = l.session.as_mut().ok_or("no session")?;
    let fresh = ls.remove_user(&mut rng(), &l.keys, &UserId::new("interp-demo")?, 1)?;
    api.call(
        &l.token,
        post.clone(),
        &format!("/v1/telehealth/sessions/{call}/key-packages"),
        Some(json!({"device": l.id, "packages": fresh})),
    )
    .await?;
    let got = api
        .call(
            &f.token,
            reqwest::Method::GET,
            &format!(
                "/v1/telehealth/sessions/{call}/key-packages?device={}",
                f.id
            ),
            None,
        )
        .await?;
    let pk: Vec<KeyPackage> =
        serde_json::from_value(got.get("packages").cloned().unwrap_or_default())?;
    let fs = f.session.as_mut().ok_or("no session")?;
    fs.accept(pk.first().ok_or("no package")?, &f.keys, new_roster, 1)?;
    out::line(format_args!(
        "   epoch {}: fresh random secret from {} ({}), sealed to {} only",
        fs.epoch(),
        l.name,
        l.user,
        f.name
    ));
    let _ = follower;
    sent.push(send_frame(l, 2).await?);
    let got = receive_frame(f).await?;
    out::line(format_args!("   {} -> {}: {got}", l.name, f.name));
    // The interpreter kept the old keys; an epoch-2 frame (captured off the wire) fails.
    let interp = &mut devices[2];
    let last = sent.last().ok_or("no frame")?.clone();
    let mut out_buf = Vec::new();
    if let Some(s) = &interp.session {
        s.install_receiver_keys(&mut interp.rx)?;
    }
    out::line(format_args!(
        "   removed interpreter on an epoch-2 frame: {}",
        match interp.rx.open(b"", &last, &mut out_buf) {
            Ok(_) => "DECRYPTED (bug)".to_owned(),
            Err(e) => format!("cannot decrypt ({e})"),
        }
    ));

    let tapped = srv.state.telehealth.tapped();
    let bytes: usize = tapped.iter().map(Vec::len).sum();
    let leaks = tapped
        .iter()
        .filter(|t| t.windows(MARK.len()).any(|w| w == MARK))
        .count();
    out::line(format_args!(
        "4. the relay handled {} messages ({bytes} bytes): {leaks} contained a plaintext frame",
        tapped.len()
    ));
    let ev = api
        .call(
            &admin,
            reqwest::Method::GET,
            "/v1/audit/events?limit=1000",
            None,
        )
        .await?;
    out::line("5. audit trail (ids and epoch numbers, no keys):");
    for e in ev
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let action = e.get("action").and_then(Value::as_str).unwrap_or_default();
        if action.starts_with("telehealth") {
            out::line(format_args!(
                "   {action:28} {} {}",
                e.get("resource")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                e.pointer("/context/device_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ));
        }
    }
    if leaks > 0 {
        return Err("the relay saw a plaintext frame".into());
    }
    Ok(())
}
