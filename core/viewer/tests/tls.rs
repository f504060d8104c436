//! `wss://` from the Rust client against the real binary with a certificate
//! made by `openssl` for the test (CI installs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Periscope, test_dir};
use periscope_client::{ClientError, ConnectOptions, Viewer};
use periscope_protocol::NdArray;

/// A self-signed certificate for 127.0.0.1/localhost: (cert.pem, key.pem).
fn make_cert(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{stem}-cert.pem")), dir.join(format!("{stem}-key.pem")));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make the test certificate (apt install openssl)");
    assert!(out.status.success(), "openssl failed: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

/// A GET over TLS trusting `cert`, by `openssl s_client` (which the test
/// needs anyway); the whole answer.
fn https_get(port: u16, cert: &Path, path: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-verify_return_error", "-quiet", "-CAfile"])
        .arg(cert)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    child.stdin.take().unwrap().write_all(request.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl s_client: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn opts(name: &str, ca: Option<&Path>) -> ConnectOptions {
    ConnectOptions { client_name: name.into(), ca_cert: ca.map(Path::to_owned), ..Default::default() }
}

#[test]
fn rust_client_speaks_wss_and_checks_the_certificate() {
    let dir = test_dir();
    let (cert, key) = make_cert(&dir, "viewer");
    let (other, _) = make_cert(&dir, "other");
    let config = format!("[server]\ntls_cert = {:?}\ntls_key = {:?}\n", cert.display(), key.display());
    let p = Periscope::start_in(dir, &config, false);
    let port = p.addr.port();
    assert_eq!(p.page, Some(format!("https://127.0.0.1:{port}/")), "the page is served over https");

    // The web view over https on the same port (the page then connects with wss).
    let page = https_get(port, &cert, "/");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html; charset=utf-8\r\n"), "{page}");
    assert!(https_get(port, &cert, "/../key.pem").starts_with("HTTP/1.1 404 "));

    let mut v = Viewer::connect_url(&format!("wss://127.0.0.1:{port}"), opts("secure", Some(&cert))).unwrap();
    let uid = v.spheres(NdArray::from_f32(vec![2, 3], vec![4.0; 6]), vec![]).unwrap();
    assert_eq!(v.query_data(uid, "positions", 0).unwrap().to_f32()[0], 4.0);
    let also = Viewer::connect_url(&format!("wss://localhost:{port}/"), opts("by-name", Some(&cert))).unwrap();
    assert_ne!(also.client_id(), v.client_id());

    // A certificate the client does not trust: refused by the client's own check.
    match Viewer::connect_url(&format!("wss://127.0.0.1:{port}"), opts("untrusting", Some(&other))) {
        Err(e) => assert!(e.to_string().to_lowercase().contains("certificate"), "{e}"),
        Ok(_) => panic!("connected while trusting another certificate"),
    }
    // A plain client gets nowhere; the encrypted one is unaffected.
    assert!(Viewer::connect_url(&format!("ws://127.0.0.1:{port}"), opts("plain", None)).is_err());
    assert_eq!(v.query().unwrap().nodes.len(), 1);

    // Bad URLs and certificate files are clear errors, not hangs.
    match Viewer::connect_url("http://127.0.0.1:1", opts("x", None)) {
        Err(ClientError::Url { why, .. }) => assert_eq!(why, "the scheme must be ws or wss, not \"http\""),
        other => panic!("expected a URL error, got {:?}", other.map(|_| ())),
    }
    let missing = Path::new("/nonexistent/cert.pem");
    match Viewer::connect_url(&format!("wss://127.0.0.1:{port}"), opts("x", Some(missing))) {
        Err(ClientError::Tls(m)) => assert!(m.contains("cannot read certificates from /nonexistent/cert.pem"), "{m}"),
        other => panic!("expected a TLS error, got {:?}", other.map(|_| ())),
    }
}
