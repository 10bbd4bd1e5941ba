//! The telehealth page in headless Chromium against a real server: three browser pages join
//! one call through `/telehealth/`, exchange HPKE key packages through the relay, and send
//! VP8 video and audio to each other with SFrame applied in `RTCRtpScriptTransform`.
//!
//! Asserted:
//! - the page is served with its strict CSP, nosniff and `application/wasm`, and loads without
//!   a CSP violation;
//! - dr-a and the patient each decode the other's video (`inbound-rtp` `framesDecoded`), and
//!   what they decode is the picture sent: the four colour bands of the fake camera's file
//!   match the sender's own preview;
//! - an observer of the encoded frames before decryption (the receive transform's tap) sees
//!   only SFrame: every frame's header names the sending device's key (epoch, sender index)
//!   and no frame shows the VP8 key-frame start code, while the same frames after decryption
//!   and the sender's frames before encryption do;
//! - a third page (dr-b) joins by the join ratchet and decodes both;
//! - after `DELETE …/participants/pat`, dr-a and dr-b move to a fresh epoch and keep
//!   decoding each other; the patient's page, made to ignore its removal and still fed dr-a's
//!   frames (as an SFU that was not told would), gets only frames it cannot open
//!   (`unknown_key`), and its decoder receives nothing more;
//! - the server audited the epochs 1, 2 and 3.
//!
//! Chromium comes from `scripts/services` (Debian `chromium`); without it the test is skipped,
//! or fails under `PHIVAULT_REQUIRE_BROWSER=1` (as `scripts/test` sets).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

#[path = "telehealth_browser/cdp.rs"]
mod cdp;
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);

fn chromium_or_skip() -> Option<PathBuf> {
    if let Some(p) = cdp::find_chromium() {
        return Some(p);
    }
    assert!(
        std::env::var("PHIVAULT_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "PHIVAULT_REQUIRE_BROWSER=1 but chromium is not installed (scripts/services installs it)"
    );
    eprintln!("skipping browser test: chromium is not installed");
    None
}

/// YUV of the four bands of the fake camera (red, green, blue, white; BT.601 full range).
const BANDS: [[u8; 3]; 4] = [
    [76, 84, 255],
    [150, 44, 21],
    [29, 255, 107],
    [235, 128, 128],
];

/// A 320x240 Y4M clip of four vertical colour bands for `--use-file-for-fake-video-capture`.
fn colour_bands_y4m(dir: &Path) -> PathBuf {
    let (w, h) = (320usize, 240usize);
    let mut frame = Vec::with_capacity(w * h * 3 / 2);
    let chroma = (w / 2, h / 2);
    for (plane, (pw, ph)) in [(w, h), chroma, chroma].into_iter().enumerate() {
        for _ in 0..ph {
            for x in 0..pw {
                frame.push(BANDS[x * 4 / pw][plane]);
            }
        }
    }
    let mut file = format!("YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..30 {
        file.extend_from_slice(b"FRAME\n");
        file.extend_from_slice(&frame);
    }
    let path = dir.join("bands.y4m");
    std::fs::write(&path, file).unwrap();
    path
}

async fn stats(page: &cdp::Page<'_>) -> Value {
    page.eval("phivault.stats()").await
}

/// Polls the page's stats until `ok` holds; panics with them after [`WAIT`].
async fn wait_stats(page: &cdp::Page<'_>, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = stats(page).await;
        if ok(&s) {
            return s;
        }
        if Instant::now() >= deadline {
            panic!(
                "{}: timed out waiting for {what}\nstats: {s:#}\nconsole:\n{}",
                page.name,
                page.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fills in the page's form and joins; waits until the page has the call's keys. `others`
/// are the pages already in the call (their state is shown if this fails).
async fn join(
    page: &cdp::Page<'_>,
    others: &[&cdp::Page<'_>],
    call: &str,
    token: &str,
    options: Value,
) {
    page.eval(&format!(
        "phivault.configure({options}); \
         document.getElementById('session').value = {call:?}; \
         document.getElementById('token').value = {token:?}; \
         document.getElementById('join').click(); true"
    ))
    .await;
    let deadline = Instant::now() + WAIT;
    while page.eval("phivault.phase()").await != "keyed" {
        if Instant::now() >= deadline {
            let mut report = String::new();
            for p in std::iter::once(page).chain(others.iter().copied()) {
                report += &format!("\n{}: {:#}\nconsole:\n{}", p.name, stats(p).await, p.logs());
            }
            panic!("{}: no call keys after {WAIT:?}{report}", page.name);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn decoded(s: &Value, from: &str) -> u64 {
    u(&s["peers"][from]["video"]["framesDecoded"])
}

fn recv<'a>(s: &'a Value, from: &str) -> &'a Value {
    &s["worker"]["recv"][format!("{from}/video")]
}

/// The decoded picture of `from` shows the four bands as this page's own camera preview does.
fn colours_match(s: &Value, from: &str) -> bool {
    let (Some(local), Some(remote)) = (
        s["local"].as_array(),
        s["peers"][from]["colours"].as_array(),
    ) else {
        return false;
    };
    local.len() == 4
        && remote.len() == 4
        && local.iter().zip(remote).all(|(l, r)| {
            (0..3)
                .all(|c| (l[c].as_i64().unwrap_or(-999) - r[c].as_i64().unwrap_or(999)).abs() <= 40)
        })
}

/// Sender index of `device` in an epoch whose roster is `roster` (sorted device ids).
fn index_in(roster: &[&str], device: &str) -> usize {
    let mut r = roster.to_vec();
    r.sort_unstable();
    r.iter().position(|d| *d == device).unwrap()
}

/// What the tap before decryption saw from `from`: only SFrame frames under `from`'s key
/// (`rosters`: epoch → roster), nothing with VP8 key-frame structure; and the same frames,
/// once opened, are VP8 with key frames.
fn assert_tap_ciphertext_only(page: &str, s: &Value, from: &str, rosters: &[(u32, Vec<&str>)]) {
    let r = recv(s, from);
    assert!(u(&r["frames"]) > 0, "{page}: no frames from {from}: {r}");
    assert_eq!(
        u(&r["tap"]["vp8Key"]),
        0,
        "{page}: the tap saw VP8 structure: {r}"
    );
    assert_eq!(
        u(&r["tap"]["unparsed"]),
        0,
        "{page}: a frame without SFrame header: {r}"
    );
    let kids = r["tap"]["kids"].as_object().unwrap();
    let mut tapped = 0;
    for (kid, n) in kids {
        let (epoch, index) = kid.split_once(':').unwrap();
        let epoch: u32 = epoch.parse().unwrap();
        let roster = &rosters
            .iter()
            .find(|(e, _)| *e == epoch)
            .unwrap_or_else(|| panic!("{page}: frame of unexpected epoch {epoch}: {r}"))
            .1;
        assert_eq!(
            index.parse::<usize>().unwrap(),
            index_in(roster, from),
            "{page}: frame under another sender's key: {r}"
        );
        tapped += u(n);
    }
    assert_eq!(tapped, u(&r["frames"]), "{page}: {r}");
    assert!(
        u(&r["openedVp8Key"]) > 0,
        "{page}: opened frames are not VP8: {r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_browsers_sframe_call_with_removal() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let started = Instant::now();
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();

    // The page: strict CSP, right types, no inline script.
    let res = app.http.get(app.url("/telehealth/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    for d in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(d), "CSP lacks {d}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"));
    let html = res.text().await.unwrap();
    assert!(
        html.matches("<script").count() == html.matches("<script type=\"module\" src=").count()
    );
    let res = app
        .http
        .get(app.url("/telehealth/pkg/phivault_telehealth_wasm_bg.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/wasm");
    assert_eq!(&res.bytes().await.unwrap()[..4], b"\0asm");
    // The API keeps its own policy.
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        res.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );

    // A patient, two clinicians on the care team (the role is care-team only), the call.
    let patient = app
        .create_patient(json!({"name": "Browser Patient", "birth_date": "1975-04-05"}))
        .await;
    app.put_role(json!({"role": "tele-clinician", "permissions": ["telehealth:patients"], "care_team_only": true}))
        .await;
    for u in ["dr-a", "dr-b"] {
        app.add_user(u, &["tele-clinician"]).await;
    }
    app.add_user("pat", &[]).await;
    let (s, b) = app
        .send(
            Method::PUT,
            &format!("/v1/collections/patients/records/{patient}/care-team"),
            Some(json!({"users": ["dr-a", "dr-b"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let tok_a = app.session("dr-a").await;
    let tok_b = app.session("dr-b").await;
    let tok_p = app.session("pat").await;
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let (s, b) = app
        .send_as(
            &tok_a,
            Method::POST,
            "/v1/telehealth/sessions",
            Some(json!({
                "patient_id": patient, "clinician_ids": ["dr-a", "dr-b"],
                "patient_user": "pat", "expires_at": expires.to_string(),
            })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let call = b["id"].as_str().unwrap().to_owned();

    let y4m = colour_bands_y4m(app.dir.path());
    let browser = cdp::Browser::launch(
        &bin,
        &[
            // The server's certificate is self-signed for localhost.
            "--ignore-certificate-errors".into(),
            format!("--use-file-for-fake-video-capture={}", y4m.display()),
        ],
    )
    .await;
    let url = format!("https://localhost:{}/telehealth/", app.srv.addr.port());

    // dr-a starts the call's keys; the patient joins (epoch 1).
    let a = browser.page("dr-a", &url).await;
    join(
        &a,
        &[],
        &call,
        &tok_a,
        json!({"loopbackOnly": true, "keepRemovedPeers": true}),
    )
    .await;
    let p = browser.page("patient", &url).await;
    join(
        &p,
        &[&a],
        &call,
        &tok_p,
        json!({"loopbackOnly": true, "keepKeysWhenRemoved": true}),
    )
    .await;
    let dev_a = stats(&a).await["device"].as_str().unwrap().to_owned();
    let dev_p = stats(&p).await["device"].as_str().unwrap().to_owned();

    // Both decode each other's video, and it is the picture that was sent.
    let sa = wait_stats(&a, "the patient's video, decoded and matching", |s| {
        decoded(s, &dev_p) > 30 && colours_match(s, &dev_p)
    })
    .await;
    let sp = wait_stats(&p, "dr-a's video, decoded and matching", |s| {
        decoded(s, &dev_a) > 30 && colours_match(s, &dev_a)
    })
    .await;
    let local = sa["local"].as_array().unwrap();
    for i in 0..4 {
        for j in i + 1..4 {
            let d: i64 = (0..3)
                .map(|c| (local[i][c].as_i64().unwrap() - local[j][c].as_i64().unwrap()).abs())
                .sum();
            assert!(
                d > 100,
                "the fake camera's bands are not distinct: {local:?}"
            );
        }
    }
    let e1 = vec![dev_a.as_str(), dev_p.as_str()];
    assert_tap_ciphertext_only("dr-a", &sa, &dev_p, &[(1, e1.clone())]);
    assert_tap_ciphertext_only("patient", &sp, &dev_a, &[(1, e1.clone())]);
    // Audio goes through the same transforms: opened, and SFrame-only on the wire.
    for (name, s, from) in [("dr-a", &sa, &dev_p), ("patient", &sp, &dev_a)] {
        let audio = &s["worker"]["recv"][format!("{from}/audio")];
        assert!(u(&audio["opened"]) > 0, "{name}: no audio opened: {audio}");
        assert_eq!(u(&audio["tap"]["unparsed"]), 0, "{name}: {audio}");
        let kids = audio["tap"]["kids"].as_object().unwrap();
        assert!(
            kids.keys()
                .all(|k| *k == format!("1:{}", index_in(&e1, from))),
            "{name}: audio under another key: {audio}"
        );
    }
    for (name, s) in [("dr-a", &sa), ("patient", &sp)] {
        let send = &s["worker"]["send"]["video"];
        assert!(
            u(&send["plainVp8Key"]) > 0 && u(&send["sealed"]) > 0,
            "{name}: the sender saw no VP8 key frame before sealing: {send}"
        );
    }

    // dr-b joins: every member ratchets to epoch 2, dr-a seals it for dr-b.
    let b = browser.page("dr-b", &url).await;
    join(&b, &[&a, &p], &call, &tok_b, json!({"loopbackOnly": true})).await;
    let dev_b = stats(&b).await["device"].as_str().unwrap().to_owned();
    for pg in [&a, &p, &b] {
        wait_stats(pg, "epoch 2", |s| s["call"]["epoch"] == 2).await;
    }
    wait_stats(&b, "dr-a's and the patient's video", |s| {
        decoded(s, &dev_a) > 30
            && decoded(s, &dev_p) > 30
            && colours_match(s, &dev_a)
            && colours_match(s, &dev_p)
    })
    .await;
    wait_stats(&a, "dr-b's video", |s| decoded(s, &dev_b) > 30).await;

    // dr-a removes the patient; the device the server names starts epoch 3 for the others.
    let (s, body) = app
        .send_as(
            &tok_a,
            Method::DELETE,
            &format!("/v1/telehealth/sessions/{call}/participants/pat"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for pg in [&a, &b] {
        wait_stats(pg, "epoch 3", |s| s["call"]["epoch"] == 3).await;
    }
    // dr-a and dr-b go on decoding each other under epoch 3.
    let before_b = decoded(&stats(&b).await, &dev_a);
    wait_stats(&b, "dr-a's video under epoch 3", |s| {
        u(&recv(s, &dev_a)["openedEpochs"]["3"]) > 30 && decoded(s, &dev_a) > before_b + 30
    })
    .await;
    let before_a = decoded(&stats(&a).await, &dev_b);
    wait_stats(&a, "dr-b's video under epoch 3", |s| {
        u(&recv(s, &dev_b)["openedEpochs"]["3"]) > 30 && decoded(s, &dev_b) > before_a + 30
    })
    .await;

    // The removed patient still receives dr-a's frames but cannot open one of epoch 3.
    let s1 = wait_stats(&p, "epoch-3 frames it cannot open", |s| {
        u(&recv(s, &dev_a)["failed"]["unknown_key"]) >= 30
    })
    .await;
    let failed = u(&recv(&s1, &dev_a)["failed"]["unknown_key"]);
    let frozen = decoded(&s1, &dev_a);
    let s2 = wait_stats(&p, "more epoch-3 frames", |s| {
        u(&recv(s, &dev_a)["failed"]["unknown_key"]) >= failed + 30
    })
    .await;
    assert_eq!(
        decoded(&s2, &dev_a),
        frozen,
        "the removed patient's decoder got frames after the epoch change"
    );
    let r = recv(&s2, &dev_a);
    assert_eq!(
        u(&r["openedEpochs"]["3"]),
        0,
        "the removed patient opened epoch 3: {r}"
    );
    assert_eq!(
        s2["call"]["epoch"], 2,
        "the patient's page stayed at epoch 2"
    );
    let e2 = vec![dev_a.as_str(), dev_p.as_str(), dev_b.as_str()];
    let e3 = vec![dev_a.as_str(), dev_b.as_str()];
    assert!(
        u(&r["tap"]["kids"][format!("3:{}", index_in(&e3, &dev_a))]) >= 30,
        "the tap saw dr-a's epoch-3 frames: {r}"
    );
    assert_tap_ciphertext_only(
        "patient",
        &s2,
        &dev_a,
        &[(1, e1.clone()), (2, e2.clone()), (3, e3.clone())],
    );
    let sb = stats(&b).await;
    assert_tap_ciphertext_only("dr-b", &sb, &dev_a, &[(2, e2.clone()), (3, e3.clone())]);

    for pg in [&a, &p, &b] {
        let logs = pg.logs();
        assert!(
            !logs.contains("Content Security Policy") && !logs.contains("exception"),
            "{}: {logs}",
            pg.name
        );
        assert_eq!(stats(pg).await["errors"], json!([]), "{}", pg.name);
    }

    // For a person to look at: PHIVAULT_BROWSER_SCREENSHOTS=DIR saves each page as a PNG.
    if let Ok(dir) = std::env::var("PHIVAULT_BROWSER_SCREENSHOTS") {
        for pg in [&a, &p, &b] {
            pg.screenshot(&Path::new(&dir).join(format!("{}.png", pg.name)))
                .await;
        }
    }

    // The server audited each epoch it relayed packages for.
    let (s, ev) = app
        .send(
            Method::GET,
            "/v1/audit/events?action=telehealth_epoch",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let epochs: Vec<String> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["resource"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(epochs, ["1", "2", "3"]);
    eprintln!(
        "telehealth browser test: {:.1} s; patient's view of dr-a after removal: {}; dr-a's view of the patient before: {}",
        started.elapsed().as_secs_f64(),
        recv(&s2, &dev_a),
        recv(&sa, &dev_p),
    );
}
