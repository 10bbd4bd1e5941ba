//! TLS (rustls with the aws-lc-rs provider, TLS 1.2 and 1.3 only) and the
//! accept loop that serves the router over it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// TLS setup failures.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate or key file could not be read or parsed.
    #[error("cannot load `{0}`: not a readable PEM file")]
    Load(String),
    /// rustls rejected the pair.
    #[error("the certificate and key do not form a valid TLS configuration")]
    Config,
    /// Generating a self-signed certificate failed.
    #[error("cannot generate a self-signed certificate")]
    Generate,
}

/// A generated certificate: PEM texts and the SHA-256 fingerprint of the DER.
#[derive(Debug)]
pub struct Generated {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (written with mode 0600 by the caller).
    pub key_pem: zeroize::Zeroizing<String>,
    /// `AB:CD:…` SHA-256 fingerprint.
    pub fingerprint: String,
}

/// The SHA-256 fingerprint of a DER certificate, colon-separated hex.
pub fn fingerprint(der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A self-signed ECDSA P-256 certificate for `localhost` and loopback.
pub fn generate_self_signed() -> Result<Generated, TlsError> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ck = rcgen::generate_simple_self_signed(names).map_err(|_| TlsError::Generate)?;
    Ok(Generated {
        fingerprint: fingerprint(ck.cert.der()),
        cert_pem: ck.cert.pem(),
        key_pem: zeroize::Zeroizing::new(ck.signing_key.serialize_pem()),
    })
}

/// Loads a certificate chain and key into a rustls server configuration.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|_| TlsError::Load(cert.display().to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Load(cert.display().to_string()))?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::Load(key.display().to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|_| TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|_| TlsError::Config)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's suite order (AEAD with forward secrecy, strongest first)
    // decides, not the client's (found by testssl: "no cipher order").
    cfg.ignore_client_order = true;
    Ok(Arc::new(cfg))
}

/// Serves `app` on `listener` until `shutdown` resolves; TLS when `tls` is
/// given. Handshakes and request headers have time limits (slowloris).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::pin!(shutdown);
    // Graceful shutdown: open connections finish their request in flight
    // and close; the accept loop waits for them (at most DRAIN).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let stop = stop_rx.clone();
        // Finished connections are reaped as new ones arrive.
        while conns.try_join_next().is_some() {}
        conns.spawn(async move {
            match acceptor {
                Some(a) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(Duration::from_secs(10), a.accept(tcp)).await
                    else {
                        return;
                    };
                    serve_conn(TokioIo::new(stream), app, peer, stop, header_timeout).await;
                }
                None => serve_conn(TokioIo::new(tcp), app, peer, stop, header_timeout).await,
            }
        });
    }
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.abort_all();
    }
}

/// How long shutdown waits for open connections.
const DRAIN: Duration = Duration::from_secs(10);

async fn serve_conn<I>(
    io: I,
    app: Router,
    peer: SocketAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
    header_timeout: Duration,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = app.map_request(
        move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.map(axum::body::Body::new)
        },
    );
    let svc = TowerToHyperService::new(svc);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(io, svc)
        // WebSocket signalling (telehealth) needs the connection handed over after 101.
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}
