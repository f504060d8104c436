//! Plain HTTP on the WebSocket port: the web view's files.
//!
//! Every connection's request head is read here first, on the connection's
//! own thread and under its admission slot and handshake deadline (so an HTTP
//! client is bounded exactly like a WebSocket handshake): at most
//! [`MAX_HEAD_BYTES`] of request line and headers, at most [`MAX_HEADERS`]
//! headers, garbage refused at its first bytes. A WebSocket upgrade gets its
//! bytes handed back to tungstenite unchanged. Anything else is a plain HTTP
//! request, answered from the [`WebBundle`] embedded in the binary (one
//! response, then the connection closes): `GET`/`HEAD` of a file in the bundle,
//! `404` for every other path (names are compared exactly with the bundle's,
//! never mapped to a file system), `405` for other methods.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::stream::Stream;

/// Largest request line plus headers accepted (a bigger head gets 431).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Most header lines accepted in a request head (more get 431).
pub const MAX_HEADERS: usize = 64;
/// A whole answer (the page's wasm is a few MB) is written within this, a
/// write at a time, each write within the handshake timeout: a download over
/// a slow tunnel is not cut at the handshake deadline, and a client that
/// reads slowly holds its slot no longer than this.
pub const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(120);
/// Bytes per write of an answer's body (the deadline is checked between them).
const WRITE_CHUNK: usize = 64 << 10;
/// Longest method token (anything longer is not HTTP: 400 at once).
const MAX_METHOD: usize = 16;

/// One file of the web view, embedded in the binary at build time
/// (`core/viewer/build.rs` writes the table).
#[derive(Clone, Copy, Debug)]
pub struct WebFile {
    /// The path under `/`, e.g. `index.html` or `periscope_web_bg.wasm`.
    pub path: &'static str,
    /// The bytes as embedded: gzip'd when `gzip` is set.
    pub body: &'static [u8],
    pub gzip: bool,
    /// The file's own length (after decompression).
    pub len: u64,
    /// A hash of the file's content, computed at build time; the ETag is made
    /// from it (one per encoding).
    pub hash: &'static str,
}

/// The web view's files (empty when the binary was built without them).
#[derive(Clone, Copy, Debug, Default)]
pub struct WebBundle {
    pub files: &'static [WebFile],
}

impl WebBundle {
    /// No files: `/` then answers a page saying how to build the web view.
    pub const EMPTY: Self = Self { files: &[] };

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The file at `path` (without the leading `/`), compared exactly.
    pub fn get(&self, path: &str) -> Option<&'static WebFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// The page served for `/` by a binary built without the web view.
const NOT_BUILT: &str = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Periscope</title></head>\n\
<body><h1>Periscope</h1>\n<p>This periscope binary was built without its web view, so there is no page to show here. \
The WebSocket server on this port works as usual.</p>\n\
<p>To build the web view, run <code>make web</code> in a checkout of Periscope and then rebuild the viewer \
(<code>make run</code>, <code>make wheel</code> or <code>cargo build --release</code>); see <code>docs/web.md</code>.</p>\n\
</body></html>\n";

/// What the first bytes of a connection turned out to be.
pub(crate) enum Head {
    /// A WebSocket upgrade: every byte read so far, to hand back to tungstenite.
    Upgrade(Vec<u8>),
    /// A plain HTTP request.
    Http(Request),
    /// Refused before it could cost more: the status and a short reason.
    Bad(u16, &'static str),
    /// Closed, timed out or shut down by admission before a whole head arrived.
    Gone,
}

/// The parts of a plain HTTP request that decide the answer.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    pub target: String,
    pub accept_gzip: bool,
    pub if_none_match: Option<String>,
}

/// Reads a request head from `stream` (bounded by [`MAX_HEAD_BYTES`]) and says what it is.
pub(crate) fn read_head(stream: &mut impl Read) -> Head {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let room = MAX_HEAD_BYTES + 1 - buf.len();
        let n = match stream.read(&mut chunk[..room.min(4096)]) {
            Ok(0) | Err(_) => return Head::Gone,
            Ok(n) => n,
        };
        let from = buf.len().saturating_sub(2);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(why) = bad_start(&buf) {
            return Head::Bad(400, why);
        }
        if let Some(end) = head_end(&buf, from) {
            return parse(buf, end);
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Head::Bad(431, "the request line and headers are larger than 16 KiB");
        }
    }
}

/// Why the first bytes cannot start an HTTP request (checked as they arrive,
/// so a peer speaking something else is refused at once).
fn bad_start(buf: &[u8]) -> Option<&'static str> {
    let first = &buf[..buf.len().min(MAX_METHOD + 1)];
    let method_len = first.iter().position(|&b| b == b' ').unwrap_or(first.len());
    if !first[..method_len].iter().all(|b| b.is_ascii_uppercase() || *b == b'-' || *b == b'_') {
        return Some("not an HTTP request");
    }
    if method_len > MAX_METHOD || (method_len == 0 && !buf.is_empty()) {
        return Some("not an HTTP request");
    }
    None
}

/// The end of the head (just past its empty line), searching from `from`.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| {
        if buf[i] != b'\n' {
            return None;
        }
        // "\n\n" or "\n\r\n" ends the head.
        if buf.get(i + 1) == Some(&b'\n') {
            Some(i + 2)
        } else if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
            Some(i + 3)
        } else {
            None
        }
    })
}

fn parse(buf: Vec<u8>, end: usize) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Head::Bad(400, "malformed request head"),
        Err(httparse::Error::TooManyHeaders) => return Head::Bad(431, "more than 64 request headers"),
        Err(_) => return Head::Bad(400, "malformed request head"),
    }
    let values = |name: &str| {
        req.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    let upgrade = values("upgrade");
    if upgrade.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")) {
        return Head::Upgrade(buf);
    }
    let if_none_match =
        req.headers.iter().any(|h| h.name.eq_ignore_ascii_case("if-none-match")).then(|| values("if-none-match"));
    Head::Http(Request {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        accept_gzip: accepts_gzip(&values("accept-encoding")),
        if_none_match,
    })
}

/// Whether an `Accept-Encoding` value allows gzip (`gzip`, `x-gzip` or `*`, with q > 0).
fn accepts_gzip(value: &str) -> bool {
    let (mut gzip, mut any) = (None, None);
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| {
                let p = p.trim();
                p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
            })
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q > 0.0);
        } else if coding == "*" {
            any = Some(q > 0.0);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Whether an `If-None-Match` list names `etag` (weak comparison, `*` matches).
fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// The content type of a bundle file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The status line's reason phrase.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// Writes a short plain-text answer (an error); the caller then finishes the
/// stream and [`linger`]s.
pub(crate) fn refuse(stream: &mut Stream, status: u16, why: &str, head_only: bool) {
    let body = format!("{status} {}: {why}\n", reason(status));
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    if status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    if !head_only {
        let _ = stream.write_all(body.as_bytes());
    }
}

/// Answers `req` from `bundle` (`None`: the web view is off); returns the
/// status sent. The caller then finishes the stream and [`linger`]s.
pub(crate) fn respond(stream: &mut Stream, req: &Request, bundle: Option<&WebBundle>) -> u16 {
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        refuse(stream, 405, "this port serves GET and HEAD only (and WebSocket upgrades)", false);
        return 405;
    }
    let Some(bundle) = bundle else {
        refuse(stream, 404, "the web view is off on this Periscope hub (server.web = false)", head_only);
        return 404;
    };
    // The query and fragment do not take part in matching.
    let path = req.target.split(['?', '#']).next().unwrap_or("");
    let name = match path {
        "/" | "/index.html" => "index.html",
        p => match p.strip_prefix('/') {
            Some(rest) if !rest.is_empty() => rest,
            _ => {
                refuse(stream, 404, "not found", head_only);
                return 404;
            }
        },
    };
    if bundle.is_empty() && name == "index.html" {
        let extra = "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-cache\r\n";
        write_ok(stream, 200, extra, NOT_BUILT.len() as u64);
        if !head_only {
            let _ = stream.write_all(NOT_BUILT.as_bytes());
        }
        return 200;
    }
    let Some(file) = bundle.get(name) else {
        refuse(stream, 404, "not found", head_only);
        return 404;
    };
    let gzip = file.gzip && req.accept_gzip;
    let etag = if gzip { format!("\"{}-gzip\"", file.hash) } else { format!("\"{}\"", file.hash) };
    // File names carry no content hash, so every file is revalidated (cheap: 304).
    let mut extra = format!("ETag: {etag}\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n");
    if req.if_none_match.as_deref().is_some_and(|list| etag_matches(list, &etag)) {
        let _ = stream.write_all(format!("HTTP/1.1 304 Not Modified\r\n{extra}Connection: close\r\n\r\n").as_bytes());
        return 304;
    }
    extra.push_str(&format!("Content-Type: {}\r\n", content_type(name)));
    if gzip {
        extra.push_str("Content-Encoding: gzip\r\n");
        write_ok(stream, 200, &extra, file.body.len() as u64);
        if !head_only {
            write_body(stream, &mut { file.body });
        }
    } else {
        write_ok(stream, 200, &extra, file.len);
        if !head_only {
            if file.gzip {
                // Decompressed as it is written: a fixed buffer, never the whole file.
                let mut inflate = flate2::read::GzDecoder::new(file.body).take(file.len);
                write_body(stream, &mut inflate);
            } else {
                write_body(stream, &mut { file.body });
            }
        }
    }
    200
}

/// Writes what `body` reads, a chunk at a time, until it ends, a write fails
/// or [`DOWNLOAD_DEADLINE`] passes.
fn write_body(stream: &mut Stream, body: &mut impl Read) {
    let start = Instant::now();
    let mut buf = vec![0u8; WRITE_CHUNK];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
        if start.elapsed() > DOWNLOAD_DEADLINE {
            tracing::debug!("an HTTP answer took longer than {DOWNLOAD_DEADLINE:?}: cut");
            return;
        }
    }
}

/// Whether a WebSocket upgrade from a browser may go on. Browsers send
/// `Origin`; other clients (Python, Rust, aitviewer) do not and pass. A page
/// from another site must not reach a hub on this machine (WebSockets have
/// no CORS): its `Origin` must name the `Host` it connects to. And a page
/// whose host is a name (not an IP address or `localhost`) might be a DNS
/// rebinding of that name to this hub: it passes only when the hub has a
/// token or TLS (`secured`), which such a page cannot get past.
pub(crate) fn check_origin(origin: Option<&str>, host: Option<&str>, secured: bool) -> Result<(), String> {
    let Some(origin) = origin else { return Ok(()) };
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest).trim_end_matches('/');
    let host = host.unwrap_or_default();
    if !authority.eq_ignore_ascii_case(host) {
        return Err(format!(
            "a WebSocket from a page of {origin:?} to host {host:?}: only the hub's own page may connect from a browser"
        ));
    }
    // The host without its port: "[::1]:8417" -> "::1", "gpu-box:8417" -> "gpu-box".
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').filter(|(h, _)| !h.contains(':')).map_or(host, |(h, _)| h),
    };
    let literal = name.parse::<std::net::IpAddr>().is_ok() || name.eq_ignore_ascii_case("localhost");
    if !literal && !secured {
        return Err(format!(
            "a browser page at host {host:?} (a name, not an address): set server.token or TLS to allow it \
             (a page of any site can make a name point at this machine)"
        ));
    }
    Ok(())
}

fn write_ok(stream: &mut Stream, status: u16, extra: &str, len: u64) {
    let head = format!(
        "HTTP/1.1 {status} {}\r\n{extra}Content-Length: {len}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        reason(status)
    );
    let _ = stream.write_all(head.as_bytes());
}

/// After the answer (and `Stream::finish`), reads what the client still
/// sends (at most 64 KiB, at most a second), so that closing does not reset
/// the connection and discard the answer.
pub(crate) fn linger(stream: &mut Stream) {
    let start = Instant::now();
    let _ = stream.tcp().set_read_timeout(Some(Duration::from_millis(250)));
    let mut buf = [0u8; 4096];
    let mut left = 64usize << 10;
    while left > 0 && start.elapsed() < Duration::from_secs(1) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Head {
        read_head(&mut std::io::Cursor::new(bytes.to_vec()))
    }

    #[test]
    fn only_the_hubs_own_page_may_open_a_websocket_from_a_browser() {
        let ok = |o: Option<&str>, h: &str, s| check_origin(o, Some(h), s).is_ok();
        assert!(ok(None, "anything", false), "clients without Origin (Python, Rust) pass");
        assert!(ok(Some("http://127.0.0.1:8417"), "127.0.0.1:8417", false));
        assert!(ok(Some("http://localhost:8417"), "LOCALHOST:8417", false));
        assert!(ok(Some("https://[::1]:8417"), "[::1]:8417", false));
        assert!(!ok(Some("https://evil.example"), "127.0.0.1:8417", false), "another site's page");
        assert!(!ok(Some("http://127.0.0.1:9999"), "127.0.0.1:8417", false), "another port's page");
        assert!(!ok(Some("null"), "127.0.0.1:8417", false), "a sandboxed page");
        assert!(!ok(Some("http://rebound.example:8417"), "rebound.example:8417", false), "a name without a secret");
        assert!(ok(Some("http://gpu-box.lan:8417"), "gpu-box.lan:8417", true), "a name with a token or TLS");
        let why = check_origin(Some("https://evil.example"), Some("127.0.0.1:8417"), false).unwrap_err();
        assert!(why.contains("evil.example"), "{why}");
    }

    #[test]
    fn heads_are_told_apart() {
        let ws = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\nextra";
        assert!(matches!(head(ws), Head::Upgrade(b) if b == ws), "all bytes read go back");
        match head(b"GET /a.js?x=1 HTTP/1.1\r\nAccept-Encoding: br, gzip;q=0.5\r\nIf-None-Match: \"h\"\r\n\r\n") {
            Head::Http(r) => {
                assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/a.js?x=1"));
                assert!(r.accept_gzip);
                assert_eq!(r.if_none_match.as_deref(), Some("\"h\""));
            }
            _ => panic!("a plain request"),
        }
        assert!(matches!(head(b"\x16\x03\x01\x02\x00"), Head::Bad(400, _)), "TLS to a plain port");
        assert!(matches!(head(b"GET / HTTP/1.1\r\nHost"), Head::Gone), "cut short");
        assert!(matches!(head(b"GET /\x01 HTTP/1.1\r\n\r\n"), Head::Bad(400, _)));
        let big = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD_BYTES]].concat();
        assert!(matches!(head(&big), Head::Bad(431, _)));
        let many: String = (0..MAX_HEADERS + 1).map(|i| format!("H{i}: v\r\n")).collect();
        assert!(matches!(head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), Head::Bad(431, _)));
    }

    #[test]
    fn accept_encoding_and_etags() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0, br"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
        assert!(etag_matches("\"a\", W/\"b\"", "\"b\""));
        assert!(etag_matches("*", "\"b\""));
        assert!(!etag_matches("\"a\"", "\"b\""));
    }
}
