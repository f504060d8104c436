//! The web view over plain HTTP on the hub's own port, against the real
//! `periscope --headless` binary over loopback sockets: the page (the embedded
//! bundle when this build has one, else the page saying how to build it),
//! content types, gzip, ETags, 404/405/400/431, HTTP clients bounded by the
//! same admission as WebSocket handshakes, `[server] web = false`, and
//! WebSocket clients served alongside.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::Periscope;

/// A parsed HTTP response.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

fn parse(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(&raw[..raw.len().min(300)])));
    let head = std::str::from_utf8(&raw[..end]).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("name: value");
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Response { status, headers, body: raw[end + 4..].to_vec() }
}

/// Sends `request` on a fresh connection and reads the whole answer (the server closes).
fn send(addr: SocketAddr, request: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("the answer, then the server closes");
    parse(&raw)
}

/// What a connection that sends nothing is told (a refusal at accept), if anything.
fn answer_without_asking(addr: SocketAddr) -> Option<Response> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    (!raw.is_empty()).then(|| parse(&raw))
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> Response {
    send(addr, format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").as_bytes())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("valid gzip");
    out
}

/// [`send`] that gives up (None) on a connection reset, e.g. when refused at accept.
fn try_send(addr: SocketAddr, request: &[u8]) -> Option<Response> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let _ = s.write_all(request);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    raw.windows(4).any(|w| w == b"\r\n\r\n").then(|| parse(&raw))
}

/// True when the connection was closed by the server without an answer.
fn closed_silently(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

#[test]
fn the_page_its_files_and_nothing_else() {
    let p = Periscope::start("");
    let addr = p.addr;
    assert_eq!(p.page.as_deref(), Some(format!("http://{addr}/").as_str()), "second stdout line");
    let bundle = periscope_viewer::web_bundle();

    let page = get(addr, "/", "Accept-Encoding: gzip, deflate\r\n");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("connection"), Some("close"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert_eq!(page.header("content-length"), Some(page.body.len().to_string().as_str()));
    if bundle.is_empty() {
        eprintln!("this build has no web bundle: checking the page that says how to build it");
        let text = String::from_utf8(page.body.clone()).unwrap();
        assert!(text.contains("make web") && text.contains("docs/web.md"), "{text}");
    } else {
        eprintln!("this build embeds {} web files", bundle.files.len());
        let index = bundle.get("index.html").unwrap();
        assert_eq!(page.header("content-encoding").is_some(), index.gzip);
        let html = if index.gzip { gunzip(&page.body) } else { page.body.clone() };
        assert_eq!(html.len() as u64, index.len);
        assert!(String::from_utf8_lossy(&html).to_lowercase().contains("<html"));

        // Every file: its content type, gzip'd when asked, plain when not, 304 for its ETag.
        for file in bundle.files {
            let path = format!("/{}", file.path);
            let zipped = get(addr, &path, "Accept-Encoding: gzip\r\n");
            assert_eq!(zipped.status, 200, "{path}");
            let plain = get(addr, &path, "");
            assert_eq!(plain.status, 200, "{path}");
            assert_eq!(plain.header("content-encoding"), None, "{path}: no gzip unless asked");
            assert_eq!(plain.body.len() as u64, file.len, "{path}: decompressed on the fly");
            if file.gzip {
                assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{path}");
                assert_eq!(gunzip(&zipped.body), plain.body, "{path}");
            }
            assert_ne!(zipped.header("etag"), plain.header("etag"), "one ETag per encoding");
            if file.path.ends_with(".wasm") {
                assert_eq!(zipped.header("content-type"), Some("application/wasm"));
                assert_eq!(zipped.header("content-encoding"), Some("gzip"), "the wasm is sent gzip'd");
            }
            if file.path.ends_with(".js") {
                assert_eq!(zipped.header("content-type"), Some("text/javascript"));
            }
            let etag = zipped.header("etag").expect("an ETag").to_owned();
            let again = get(addr, &path, &format!("Accept-Encoding: gzip\r\nIf-None-Match: \"x\", {etag}\r\n"));
            assert_eq!((again.status, again.body.len()), (304, 0), "{path}");
            assert_eq!(again.header("etag"), Some(etag.as_str()));
            let stale = get(addr, &path, "Accept-Encoding: gzip\r\nIf-None-Match: \"stale\"\r\n");
            assert_eq!(stale.status, 200, "{path}");
        }
    }
    // The query is not part of the name; HEAD has the headers only.
    assert_eq!(get(addr, "/index.html?v=2", "").status, 200);
    let head = send(addr, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert!(head.header("content-length").unwrap().parse::<usize>().unwrap() > 0);

    // Nothing outside the bundle.
    for path in
        ["/nope", "/../Cargo.toml", "/%2e%2e/Cargo.toml", "/..%2fCargo.toml", "//etc/passwd", "/index.html/", "*"]
    {
        let r = get(addr, path, "");
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert!(r.body.len() < 200);
    }
    let post = send(addr, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    // Malformed and oversize heads are refused.
    assert_eq!(send(addr, b"GET\r\n\r\n").status, 400);
    assert_eq!(send(addr, b"\x16\x03\x01\x00\xa5\x01\x00\x00").status, 400, "TLS to a plain port");
    assert_eq!(send(addr, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n").status, 400);
    let huge = format!("GET / HTTP/1.1\r\nCookie: {}\r\n\r\n", "c".repeat(20_000));
    assert_eq!(send(addr, huge.as_bytes()).status, 431);
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(send(addr, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).status, 431);

    // WebSocket clients on the same port are served as before.
    let mut v = p.client("alongside");
    v.query().expect("a WebSocket client is served");
}

#[test]
fn http_clients_take_slots_and_deadlines_like_idle_sockets() {
    let p = Periscope::start("[server]\nmax_clients = 2\nhandshake_timeout_ms = 60000\n");
    let addr = p.addr;
    // Two half-sent requests hold both slots...
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    second.write_all(b"GET / HTT").unwrap();
    // ...until WebSocket clients arrive: each evicts the oldest, as an idle socket would be.
    let mut a = p.client("a");
    assert!(closed_silently(&mut first), "the oldest half request made room");
    let mut b = p.client("b");
    assert!(closed_silently(&mut second), "and then the other");
    // Both slots are welcomed clients: an HTTP client is refused at accept (503).
    assert_eq!(answer_without_asking(addr).map(|r| r.status), Some(503));
    a.query().unwrap();
    b.query().unwrap();
    drop(b);
    // A freed slot serves HTTP again (the disconnect is noticed asynchronously).
    let mut status = None;
    for _ in 0..500 {
        status = try_send(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").map(|r| r.status);
        if status == Some(200) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status, Some(200), "the freed slot serves HTTP");
    // A browser asks for the page's next file as soon as it has read one: the
    // previous connection, answered and only lingering, gives way.
    for i in 0..30 {
        assert_eq!(get(addr, "/", "").status, 200, "request {i} right after the previous one");
    }
    a.query().unwrap();
}

#[test]
fn a_request_that_never_ends_is_closed_at_the_handshake_deadline() {
    let p = Periscope::start("[server]\nhandshake_timeout_ms = 1000\n");
    let mut slow = TcpStream::connect(p.addr).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    assert!(closed_silently(&mut slow), "closed without an answer at the deadline");
    assert_eq!(get(p.addr, "/", "").status, 200, "prompt requests are still answered");
    p.client("after").query().unwrap();
}

#[test]
fn web_off_answers_404_and_prints_no_page() {
    let p = Periscope::start("[server]\nweb = false\n");
    assert_eq!(p.page, None, "no `open` line");
    let r = get(p.addr, "/", "");
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("server.web = false"));
    p.client("still-served").query().unwrap();
}

/// A WebSocket upgrade as a browser sends it: with `Origin`.
fn upgrade(addr: SocketAddr, host: &str, origin: &str) -> u16 {
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).expect("a status line");
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}

#[test]
fn only_the_hubs_own_page_opens_a_websocket_from_a_browser() {
    let p = Periscope::start("");
    let addr = p.addr;
    let host = addr.to_string();
    assert_eq!(upgrade(addr, &host, &format!("http://{host}")), 101, "the hub's own page");
    assert_eq!(upgrade(addr, &host, "https://evil.example"), 403, "another site's page");
    assert_eq!(upgrade(addr, "rebound.example:8417", "http://rebound.example:8417"), 403, "a rebound name");
    // Clients that send no Origin (the Python and Rust clients) are unaffected.
    let mut v = periscope_client::Viewer::connect(addr, "no-origin").expect("a plain client connects");
    v.query().expect("and is served");
    let t = Periscope::start("[server]\ntoken = \"t\"\n");
    assert_eq!(upgrade(t.addr, "gpu-box.lan:8417", "http://gpu-box.lan:8417"), 101, "a name, with a token");
}
