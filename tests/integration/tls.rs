//! `upstream:https://` sides against a real TLS service: a CA and a server
//! certificate for `localhost` made here (rcgen), the worked HTTP
//! migration's Rust service (`examples/normalize_http`) behind a TLS front
//! (tokio-rustls, bytes passed through both ways), and the bundled
//! exchange capture replayed over it. Trusted through `--candidate-ca-file`,
//! the run finds what it finds over plain HTTP; without it, or by a name
//! the certificate does not hold, the run does not start (exit 2) and says
//! which TLS failure it was.

use crate::http_services::{legacy_service, rust_service, upstream, Service};
use crate::upstream::{capture, planted_ids};
use crate::util::{files_containing, tempdir, Replay};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;

const SECRET: &str = "tls-side-secret-41d0-never-written";
const SECRET_VAR: &str = "TLS_SHADOW_TOKEN_FOR_TEST";

/// A TLS listener on a free port passing each connection on to `backend`;
/// stops when dropped.
struct TlsFront {
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

/// A fresh CA (its PEM written to `ca_pem`) and a front for `backend`
/// whose certificate names `localhost` only, signed by that CA.
fn tls_front(backend: u16, ca_pem: &Path) -> TlsFront {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "cutover test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = ca.self_signed(&ca_key).unwrap();
    std::fs::write(ca_pem, ca.pem()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake is the client's to report.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        port,
        _runtime: runtime,
    }
}

/// The legacy over HTTP and the Rust service behind a TLS front.
fn services(dir: &Path) -> (Service, Service, TlsFront) {
    let (legacy, rust) = (legacy_service(), rust_service());
    let front = tls_front(rust.port, &dir.join("ca.pem"));
    (legacy, rust, front)
}

fn mismatched_ids(run: &Path) -> BTreeSet<String> {
    crate::util::mismatches(run)
        .iter()
        .map(|r| r["id"].clone())
        .collect()
}

#[test]
fn the_bundled_capture_over_https_with_the_ca_file_finds_what_it_finds_over_http() {
    let tmp = tempdir();
    let (legacy, rust, front) = services(tmp.path());
    let secret_header = format!("x-shadow-token={SECRET_VAR}");
    let over_http = Replay::new(tmp.path())
        .traffic(capture())
        .out(&tmp.path().join("http"))
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&rust))
        .args(&["--no-flags"])
        .run(1);
    let https = format!("upstream:https://localhost:{}", front.port);
    let ca = tmp.path().join("ca.pem");
    let replay = Replay::new(tmp.path())
        .traffic(capture())
        .out(&tmp.path().join("https"))
        .legacy(&upstream(&legacy))
        .candidate(&https)
        .args(&["--no-flags", "-vv", "--candidate-ca-file"])
        .args(&[ca.to_str().unwrap()])
        .args(&["--candidate-secret-header", &secret_header]);
    let mut command = replay.command();
    command.env(SECRET_VAR, SECRET);
    let output = command.output().unwrap();
    let said = crate::util::output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    let summary = crate::util::summary(&tmp.path().join("https"));
    crate::util::assert_accounted(&summary);
    let names = [
        "read",
        "matched",
        "mismatched",
        "candidate_errors",
        "rejected",
    ];
    assert_eq!(
        crate::util::counts(&summary, &names),
        crate::util::counts(&over_http.summary, &names),
        "{}",
        summary["counts"]
    );
    let mismatched = mismatched_ids(&tmp.path().join("https"));
    assert_eq!(mismatched, mismatched_ids(&over_http.out));
    assert_eq!(mismatched, planted_ids());
    assert_eq!(
        summary["spec"]["candidate"]["upstream"]["ca_file"],
        ca.to_str().unwrap()
    );
    let leaks = files_containing(tmp.path(), &[SECRET]);
    assert!(leaks.is_empty(), "{leaks:?}");
    assert!(!said.contains(SECRET));
}

/// Runs the capture against the front at `url` with `args`: exit 2, no
/// report; returns what it said.
fn refused(dir: &Path, url: &str, args: &[&str]) -> String {
    let legacy = legacy_service();
    let output = Replay::new(dir)
        .traffic(capture())
        .legacy(&upstream(&legacy))
        .candidate(url)
        .args(&["--no-flags"])
        .args(args)
        .command()
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(!dir.join("run/summary.json").exists());
    crate::util::output_text(&output)
}

#[test]
fn an_https_side_whose_ca_is_not_trusted_is_exit_2_naming_the_tls_failure() {
    let tmp = tempdir();
    let (_legacy, _rust, front) = services(tmp.path());
    let url = format!("upstream:https://localhost:{}", front.port);
    let said = refused(tmp.path(), &url, &[]);
    assert!(
        said.contains(&format!(
            "the certificate of https://localhost:{} is signed by a CA this side does not trust: give that CA's PEM file with --candidate-ca-file PATH",
            front.port
        )),
        "{said}"
    );
}

#[test]
fn an_https_side_reached_by_a_name_its_certificate_lacks_is_exit_2_saying_so() {
    let tmp = tempdir();
    let (_legacy, _rust, front) = services(tmp.path());
    let url = format!("upstream:https://127.0.0.1:{}", front.port);
    // The CA file named in cutover.toml, relative to that file (the replay
    // runs elsewhere): trusted, so the name is what fails.
    let config = crate::util::config_file(tmp.path(), "[sides.candidate]\nca_file = \"ca.pem\"\n");
    let said = refused(tmp.path(), &url, &["--config", config.to_str().unwrap()]);
    assert!(
        said.contains("is not valid for the host 127.0.0.1"),
        "{said}"
    );
}
