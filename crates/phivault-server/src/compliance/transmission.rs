//! Transmission security: HTTPS only, a certificate that loads, matches its
//! key, is within its validity period, is not self-signed and is not weak;
//! the plain-HTTP metrics listener kept on loopback; no setting that weakens
//! policy.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::{Finding, Install, Pitfall, Safeguard, Status};

/// A certificate expiring within this many days warns.
const EXPIRY_WARN_DAYS: i64 = 30;

/// Signature algorithms no client should be asked to trust (MD2, MD4, MD5,
/// SHA-1 with RSA, DSA or ECDSA), by OID.
const WEAK_SIGNATURES: [&str; 6] = [
    "1.2.840.113549.1.1.2",
    "1.2.840.113549.1.1.3",
    "1.2.840.113549.1.1.4",
    "1.2.840.113549.1.1.5",
    "1.2.840.10040.4.3",
    "1.2.840.10045.4.1",
];

pub(super) fn check(i: &Install<'_>) -> Vec<Finding> {
    let mut out = vec![tls(i), weakening(i), metrics(i), audit_stream(i)];
    out.extend(certificate(i));
    out
}

fn tls(i: &Install<'_>) -> Finding {
    const ID: &str = "transmission.tls";
    if i.config.insecure_http {
        return Finding::not_met(
            ID,
            Safeguard::Transmission,
            Status::Fail,
            "the server is configured for plain HTTP (`insecure_http`): PHI would cross the network in the clear",
            "remove `insecure_http` from config.toml and serve TLS",
        )
        .pitfall(Pitfall::TemporaryBackdoor);
    }
    Finding::pass(
        ID,
        Safeguard::Transmission,
        "HTTPS only: rustls negotiates TLS 1.3 or 1.2 with AEAD cipher suites; nothing older can be enabled",
    )
    .pitfall(Pitfall::OutdatedEncryption)
}

/// Settings that weaken policy. There is no switch that turns
/// authentication or authorization off; `insecure_http` (refused without
/// `--dev`, itself a command-line flag only) and a trusted proxy range that
/// lets anyone choose their address are what configuration can weaken.
fn weakening(i: &Install<'_>) -> Finding {
    const ID: &str = "config.weakening_settings";
    let mut found = Vec::new();
    if i.config.insecure_http {
        found.push("`insecure_http = true` (a development setting)".to_owned());
    }
    if i.config.dev {
        found.push("development mode (`--dev`)".to_owned());
    }
    for p in &i.config.trusted_proxies {
        if p.prefix_len() == 0 {
            found.push(format!(
                "`trusted_proxies` contains `{p}`: any client can set its address in X-Forwarded-For and pass `ip_range` constraints"
            ));
        }
    }
    if found.is_empty() {
        return Finding::pass(
            ID,
            Safeguard::AccessControl,
            "no setting weakens policy: there is no switch that turns authentication or authorization off, and `insecure_http` and catch-all `trusted_proxies` are absent",
        )
        .pitfall(Pitfall::TemporaryBackdoor);
    }
    Finding::not_met(
        ID,
        Safeguard::AccessControl,
        Status::Fail,
        format!("settings that weaken policy: {}", found.join("; ")),
        "remove them from config.toml; list only your reverse proxies' addresses in `trusted_proxies`",
    )
    .pitfall(Pitfall::TemporaryBackdoor)
}

fn metrics(i: &Install<'_>) -> Finding {
    const ID: &str = "transmission.metrics_listener";
    match i.config.metrics_listen {
        None => Finding::pass(ID, Safeguard::Transmission, "the metrics listener is off"),
        Some(a) if a.ip().is_loopback() => Finding::pass(
            ID,
            Safeguard::Transmission,
            format!("the metrics listener (plain HTTP, counts only) is on loopback `{a}`"),
        ),
        Some(a) => Finding::not_met(
            ID,
            Safeguard::Transmission,
            Status::Warn,
            format!(
                "the metrics listener (plain HTTP, unauthenticated) listens on `{a}`, beyond this host"
            ),
            "bind `metrics_listen` to 127.0.0.1 and scrape it through an authenticated TLS proxy",
        ),
    }
}

/// The host of a broker URL (`nats://h:4222`, `h:9092`; the first of a
/// comma-separated list), and whether its scheme asks for TLS.
fn broker(url: &str) -> (String, bool) {
    let first = url.split(',').next().unwrap_or_default().trim();
    let (tls, rest) = match first.split_once("://") {
        Some((scheme, rest)) => (matches!(scheme, "tls" | "wss"), rest),
        None => (false, first),
    };
    let hostport = rest.rsplit('@').next().unwrap_or(rest);
    let host = match hostport.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => hostport.split([':', '/']).next().unwrap_or_default(),
    };
    (host.to_owned(), tls)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// Audit events name users and record pseudonyms (no PHI values): on their
/// way to the broker they still deserve TLS beyond this host.
fn audit_stream(i: &Install<'_>) -> Finding {
    const ID: &str = "transmission.audit_stream";
    let mut plain = Vec::new();
    let mut used = Vec::new();
    for (sink, url) in [
        ("nats_url", i.config.nats_url.as_deref()),
        ("kafka_brokers", i.config.kafka_brokers.as_deref()),
    ] {
        let Some(url) = url else { continue };
        used.push(sink);
        let (host, tls) = broker(url);
        // The Kafka sink speaks plaintext only for now.
        let tls = tls && sink == "nats_url";
        if !tls && !is_loopback(&host) {
            plain.push(format!("`{sink}` reaches `{host}` without TLS"));
        }
    }
    if used.is_empty() {
        return Finding::pass(
            ID,
            Safeguard::Transmission,
            "no audit broker configured (see audit.streaming)",
        );
    }
    if plain.is_empty() {
        return Finding::pass(
            ID,
            Safeguard::Transmission,
            "the audit stream goes to a broker on loopback or over TLS",
        );
    }
    Finding::not_met(
        ID,
        Safeguard::Transmission,
        Status::Warn,
        format!(
            "audit events (user ids, record pseudonyms, no PHI values) cross the network in clear: {}",
            plain.join("; ")
        ),
        "use `tls://` for NATS, or a broker on this host that forwards over TLS",
    )
}

fn certificate(i: &Install<'_>) -> Vec<Finding> {
    const ID: &str = "transmission.certificate";
    let (cert, key) = (&i.config.tls_cert, &i.config.tls_key);
    let der = match CertificateDer::from_pem_file(cert) {
        Ok(d) => d,
        Err(_) => {
            return unreadable(Finding::not_met(
                ID,
                Safeguard::TransmissionEncryption,
                Status::Fail,
                format!(
                    "the certificate `{}` is missing or not a PEM certificate",
                    cert.display()
                ),
                "install the certificate (PEM) and set `tls_cert`/`tls_key`",
            ));
        }
    };
    let Ok((_, x)) = X509Certificate::from_der(der.as_ref()) else {
        return unreadable(Finding::not_met(
            ID,
            Safeguard::TransmissionEncryption,
            Status::Fail,
            format!(
                "the certificate `{}` does not parse as X.509",
                cert.display()
            ),
            "install a valid X.509 certificate",
        ));
    };
    vec![validity(i, &x, cert, key), issuer(&x), strength(&x)]
}

/// The certificate finding, and the two that need a parsed certificate
/// reported as not checkable.
fn unreadable(f: Finding) -> Vec<Finding> {
    let why = "the certificate does not load";
    vec![
        f,
        Finding::unknown(
            "transmission.certificate_issuer",
            Safeguard::TransmissionIntegrity,
            why,
        ),
        Finding::unknown(
            "transmission.certificate_strength",
            Safeguard::TransmissionEncryption,
            why,
        )
        .pitfall(Pitfall::OutdatedEncryption),
    ]
}

fn validity(i: &Install<'_>, x: &X509Certificate<'_>, cert: &Path, key: &Path) -> Finding {
    const ID: &str = "transmission.certificate";
    const S: Safeguard = Safeguard::TransmissionEncryption;
    let fix = "install a current certificate from your CA (`tls_cert`, `tls_key`) and restart";
    if crate::tls::server_config(cert, key).is_err() {
        return Finding::not_met(
            ID,
            S,
            Status::Fail,
            format!(
                "the certificate `{}` and key `{}` do not form a TLS configuration (unreadable key, or a key that does not match)",
                cert.display(),
                key.display()
            ),
            "install the private key that belongs to the certificate",
        );
    }
    let now = i.now.as_second();
    let (from, until) = (
        x.validity().not_before.timestamp(),
        x.validity().not_after.timestamp(),
    );
    let day = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    if now < from {
        return Finding::not_met(
            ID,
            S,
            Status::Fail,
            format!("the certificate is not valid before {}", day(from)),
            fix,
        );
    }
    if now > until {
        return Finding::not_met(
            ID,
            S,
            Status::Fail,
            format!("the certificate expired on {}", day(until)),
            fix,
        );
    }
    let left = (until - now) / 86_400;
    if left < EXPIRY_WARN_DAYS {
        return Finding::not_met(
            ID,
            S,
            Status::Warn,
            format!("the certificate expires in {left} days ({})", day(until)),
            "renew the certificate before it expires",
        );
    }
    Finding::pass(
        ID,
        S,
        format!(
            "the certificate loads, matches its key and is valid until {} ({left} days)",
            day(until)
        ),
    )
}

fn issuer(x: &X509Certificate<'_>) -> Finding {
    const ID: &str = "transmission.certificate_issuer";
    if x.issuer().as_raw() == x.subject().as_raw() {
        return Finding::not_met(
            ID,
            Safeguard::TransmissionIntegrity,
            Status::Warn,
            "the certificate is self-signed (the one `init` generates): clients can trust it only by pinning its fingerprint, and it cannot be revoked",
            "use a certificate issued by your organization's CA or a public CA",
        );
    }
    Finding::pass(
        ID,
        Safeguard::TransmissionIntegrity,
        "the certificate is issued by a CA, not self-signed",
    )
}

fn strength(x: &X509Certificate<'_>) -> Finding {
    const ID: &str = "transmission.certificate_strength";
    let mut weak = Vec::new();
    let sig = x.signature_algorithm.algorithm.to_id_string();
    if WEAK_SIGNATURES.contains(&sig.as_str()) {
        weak.push(format!(
            "a broken signature algorithm (OID {sig}: MD5 or SHA-1)"
        ));
    }
    match x.public_key().parsed() {
        Ok(PublicKey::RSA(k)) if k.key_size() < 2048 => {
            weak.push(format!(
                "a {}-bit RSA key (at least 2048 needed)",
                k.key_size()
            ));
        }
        Ok(PublicKey::EC(k)) if k.key_size() < 256 => {
            weak.push(format!(
                "a {}-bit EC key (at least 256 needed)",
                k.key_size()
            ));
        }
        Ok(PublicKey::DSA(_)) => weak.push("a DSA key".to_owned()),
        Ok(_) => {}
        Err(_) => weak.push("a public key that does not parse".to_owned()),
    }
    if weak.is_empty() {
        return Finding::pass(
            ID,
            Safeguard::TransmissionEncryption,
            "the certificate's key and signature algorithm are current",
        )
        .pitfall(Pitfall::OutdatedEncryption);
    }
    Finding::not_met(
        ID,
        Safeguard::TransmissionEncryption,
        Status::Fail,
        format!("the certificate uses {}", weak.join(" and ")),
        "reissue the certificate with an ECDSA P-256 (or RSA 2048+) key signed with SHA-256 or better",
    )
    .pitfall(Pitfall::OutdatedEncryption)
}
