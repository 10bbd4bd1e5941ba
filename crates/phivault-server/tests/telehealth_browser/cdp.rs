//! A small Chrome DevTools Protocol client: launches headless Chromium on a fresh profile,
//! opens pages in separate browser contexts and evaluates JavaScript in them. Enough for the
//! telehealth browser test; no npm, no driver binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// The Chromium binary: `PHIVAULT_CHROMIUM`, else `chromium` (Debian) on the PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PHIVAULT_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

pub struct Browser {
    child: std::process::Child,
    out: mpsc::UnboundedSender<String>,
    pending: Pending,
    next: std::sync::atomic::AtomicU64,
    /// Console messages and exceptions by CDP session, for failure reports.
    pub logs: Arc<Mutex<HashMap<String, Vec<String>>>>,
    _profile: tempfile::TempDir,
}

pub struct Page<'b> {
    browser: &'b Browser,
    session: String,
    pub name: &'static str,
}

impl Browser {
    /// Starts Chromium with `extra` flags on top of the closed-network set.
    pub async fn launch(bin: &Path, extra: &[String]) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-breakpad",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--no-pings",
            "--no-default-browser-check",
            "--disable-dev-shm-usage",
            "--mute-audio",
            // Nothing but localhost resolves: no lookup leaves the machine.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
            // Two pages share one browser: keep the one not in front running at full rate.
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            // WebRTC between two pages of this machine over 127.0.0.1 only.
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--remote-debugging-port=0",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.iter().cloned());
        args.push("about:blank".into());
        let child = std::process::Command::new(bin)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        // Chromium writes its port and browser endpoint here once it listens.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let text = loop {
            if let Ok(t) = std::fs::read_to_string(&port_file)
                && t.lines().count() >= 2
            {
                break t;
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut lines = text.lines();
        let port: u16 = lines.next().unwrap().trim().parse().unwrap();
        let path = lines.next().unwrap().trim().to_owned();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let req = format!("ws://127.0.0.1:{port}{path}")
            .into_client_request()
            .unwrap();
        let (ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if sink.send(Message::Text(m.into())).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let logs: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let (p2, l2) = (Arc::clone(&pending), Arc::clone(&logs));
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else { continue };
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                if let Some(id) = v["id"].as_u64() {
                    if let Some(tx) = p2.lock().unwrap().remove(&id) {
                        let _ = tx.send(v);
                    }
                    continue;
                }
                let session = v["sessionId"].as_str().unwrap_or("").to_owned();
                let line = match v["method"].as_str() {
                    Some("Runtime.consoleAPICalled") => {
                        let args: Vec<String> = v["params"]["args"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|a| {
                                a["value"]
                                    .as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| a["value"].to_string())
                            })
                            .collect();
                        format!("console.{}: {}", v["params"]["type"], args.join(" "))
                    }
                    Some("Runtime.exceptionThrown") => format!(
                        "exception: {}",
                        v["params"]["exceptionDetails"]["exception"]["description"]
                    ),
                    _ => continue,
                };
                l2.lock().unwrap().entry(session).or_default().push(line);
            }
        });
        Browser {
            child,
            out,
            pending,
            next: 1.into(),
            logs,
            _profile: profile,
        }
    }

    /// One CDP command (on a page's session when `session` is given).
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.out.send(msg.to_string()).unwrap();
        let v = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .unwrap_or_else(|_| panic!("CDP {method}: no answer in 60 s"))
            .unwrap();
        assert!(v.get("error").is_none(), "CDP {method}: {}", v["error"]);
        v["result"].clone()
    }

    /// A new page in its own browser context (separate storage), navigated to `url`.
    pub async fn page(&self, name: &'static str, url: &str) -> Page<'_> {
        let ctx = self
            .call(None, "Target.createBrowserContext", json!({}))
            .await;
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": ctx["browserContextId"]}),
            )
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        let session = attached["sessionId"].as_str().unwrap().to_owned();
        self.call(Some(&session), "Runtime.enable", json!({})).await;
        self.call(Some(&session), "Page.enable", json!({})).await;
        self.call(Some(&session), "Page.navigate", json!({"url": url}))
            .await;
        let page = Page {
            browser: self,
            session,
            name,
        };
        page.wait_for(
            "loaded",
            Duration::from_secs(30),
            "document.readyState === 'complete' && typeof window.phivault === 'object'",
        )
        .await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Page<'_> {
    /// Evaluates `expr` (awaiting a promise) and returns its JSON value, or the exception text.
    pub async fn try_eval(&self, expr: &str) -> Result<Value, String> {
        let r = self
            .browser
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(ex["exception"]["description"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| ex["text"].to_string()));
        }
        Ok(r["result"]["value"].clone())
    }

    pub async fn eval(&self, expr: &str) -> Value {
        match self.try_eval(expr).await {
            Ok(v) => v,
            Err(e) => panic!("{}: `{expr}` threw {e}\n{}", self.name, self.logs()),
        }
    }

    /// Saves a PNG of the page.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let r = self
            .browser
            .call(
                Some(&self.session),
                "Page.captureScreenshot",
                json!({"format": "png"}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub fn logs(&self) -> String {
        self.browser
            .logs
            .lock()
            .unwrap()
            .get(&self.session)
            .map(|l| l.join("\n"))
            .unwrap_or_default()
    }

    /// Polls `expr` every 100 ms until it is truthy; returns its value. Panics after `limit`
    /// with `what`, the last value and the page's console.
    pub async fn wait_for(&self, what: &str, limit: Duration, expr: &str) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.try_eval(expr).await;
            match &v {
                Ok(Value::Bool(false) | Value::Null) | Err(_) => {}
                Ok(v) => return v.clone(),
            }
            if Instant::now() >= deadline {
                let stats = self
                    .try_eval("window.phivault ? window.phivault.stats() : null")
                    .await;
                panic!(
                    "{}: timed out after {limit:?} waiting for {what} (last: {v:?})\nstats: {stats:?}\nconsole:\n{}",
                    self.name,
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
