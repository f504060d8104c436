//! Limits on images and controls (docs/protocol.md, "Limits: images and
//! controls"), over real loopback sockets against the real binary:
//! decompression bombs are refused from their header without being decoded,
//! an `images` list is bounded, errors quote client data as a short excerpt,
//! the total number of controls is bounded across reconnecting clients, and
//! integers a control cannot hold exactly are refused.

mod common;

use std::time::{Duration, Instant};

use common::Periscope;
use periscope_client::{ClientError, Viewer, kw};
use periscope_protocol::{Envelope, MessageType, NdArray, Reply, Value};

/// The next error reply, skipping anything else.
#[track_caller]
fn next_error(v: &mut Viewer) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match v.recv(Duration::from_secs(1)) {
            Ok(Some(Reply::Problem { warning: false, code, message, .. })) => return (code, message),
            Ok(_) => {}
            Err(e) => panic!("waiting for an error reply: {e}"),
        }
    }
    panic!("no error reply within 30 s");
}

/// The viewer's resident memory in KiB (`VmRSS` of /proc/PID/status).
fn rss_kib(p: &Periscope) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Deflate bits, least significant first; Huffman codes go most significant bit first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, bits: u32) {
        for i in 0..bits {
            self.acc |= ((value >> i) & 1) << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                (self.acc, self.n) = (0, 0);
            }
        }
    }

    fn code(&mut self, code: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
}

/// A valid PNG of `side` x `side` 1-bit grayscale zeros: a few hundred kB
/// that decode to `side`² RGBA8 pixels (16384: 1 GiB). The zlib stream is
/// one fixed-Huffman block: a zero, then copies of 258 bytes at distance 1.
fn png_bomb(side: u32) -> Vec<u8> {
    let row = side as usize / 8 + 1; // filter byte + 1 bit a pixel
    let total = row * side as usize;
    let mut bits = Bits::default();
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // fixed Huffman
    bits.code(0x30, 8); // literal 0
    let rest = total - 1;
    for _ in 0..rest / 258 {
        bits.code(0b1100_0101, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
    }
    for _ in 0..rest % 258 {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7); // flush
    let adler = ((total % 65521) as u32) << 16 | 1;
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(&bits.out[..]);
    zlib.extend(adler.to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([1, 0, 0, 0, 0]); // 1-bit grayscale, deflate, adaptive filter, no interlace
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &zlib);
    chunk(b"IEND", &[]);
    png
}

fn images_state(v: &mut Viewer) -> Value {
    let seq = v.send(Envelope::new(MessageType::QueryImages.as_i64())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(reply @ Reply::ImagesState(_))) = v.recv(Duration::from_secs(1))
            && reply.ref_seq() == Some(seq)
        {
            return reply.to_value();
        }
    }
    panic!("no images state");
}

fn camera() -> Value {
    let eye: Vec<Value> =
        (0..4).map(|r| Value::Array((0..4).map(|c| Value::Float(if r == c { 1.0 } else { 0.0 })).collect())).collect();
    Value::map([
        ("width", Value::Float(64.0)),
        ("height", Value::Float(64.0)),
        ("fx", Value::Float(50.0)),
        ("fy", Value::Float(50.0)),
        ("cx", Value::Float(32.0)),
        ("cy", Value::Float(32.0)),
        ("world_to_camera", Value::Array(eye)),
    ])
}

#[test]
fn png_bombs_are_refused_from_their_header_without_decoding() {
    let p = Periscope::start("");
    let mut v = p.client("bomber");
    let bomb = png_bomb(16_384);
    assert!(bomb.len() < 400_000, "the bomb is small: {} bytes", bomb.len());
    // A good image first: the viewer is warm, and this window must survive.
    let good = NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![4, 6, 3], &[7; 72]).unwrap();
    v.send(Envelope::new(MessageType::Images.as_i64()).with_kwarg("images", Value::Array(vec![Value::NdArray(good)])))
        .unwrap();
    images_state(&mut v);
    let before = rss_kib(&p);

    let list = Value::Array(vec![Value::Bin(vec![0xFF, 0xD8, 0xFF]), Value::Bin(bomb.clone())]);
    v.send(Envelope::new(MessageType::Images.as_i64()).with_kwarg("images", list)).unwrap();
    let (code, message) = next_error(&mut v);
    assert_eq!(code, "limit", "{message}");
    assert!(message.starts_with("images[1]: 16384x16384"), "{message}");
    assert!(message.contains("max_decoded_mb_per_client"), "{message}");

    // The same bomb as the main view's image.
    let env = Envelope::new(MessageType::ViewportImage.as_i64())
        .with_kwarg("image", Value::Bin(bomb))
        .with_kwarg("camera", camera());
    v.send(env).unwrap();
    let (code, message) = next_error(&mut v);
    assert_eq!(code, "limit", "{message}");
    assert!(message.starts_with("viewport_image: field \"image\""), "{message}");

    // Nothing was decoded: the memory did not jump (a decoded bomb is 1 GiB),
    // and the good window is still there with its image.
    let state = images_state(&mut v);
    let after = rss_kib(&p);
    assert!(after < before + 100 * 1024, "RSS went from {before} KiB to {after} KiB");
    let windows = state.get("windows").and_then(|w| if let Value::Array(a) = w { Some(a.clone()) } else { None });
    let windows = windows.unwrap();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(windows[0].get("width").and_then(Value::as_i64), Some(6));
    assert_eq!(windows[0].get("errors").and_then(Value::as_i64), Some(0));
}

#[test]
fn an_images_list_is_bounded() {
    let p = Periscope::start("");
    let mut v = p.client("many");
    let one = || Value::NdArray(NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![1, 1], &[0]).unwrap());
    let list = Value::Array((0..1000).map(|_| one()).collect());
    v.send(Envelope::new(MessageType::Images.as_i64()).with_kwarg("images", list)).unwrap();
    let (_, message) = next_error(&mut v);
    assert!(message.contains("field \"images\" has 1000 images") && message.contains("64"), "{message}");
    let state = images_state(&mut v);
    assert_eq!(state.get("windows"), Some(&Value::Array(vec![])), "no window was opened");
    // 64 are fine.
    let list = Value::Array((0..64).map(|_| one()).collect());
    v.send(Envelope::new(MessageType::Images.as_i64()).with_kwarg("images", list)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = images_state(&mut v);
        if let Some(Value::Array(w)) = state.get("windows")
            && w.len() == 64
        {
            break;
        }
        assert!(Instant::now() < deadline, "64 windows never appeared");
    }
}

#[test]
fn a_bad_dropdown_value_is_answered_briefly() {
    let p = Periscope::start("");
    let mut owner = p.client("owner");
    let options: Vec<Value> = (0..1024).map(|i| Value::from(format!("option number {i}"))).collect();
    let menu = owner.add_control("dropdown", "Menu", vec![kw("options", Value::Array(options))]).unwrap();
    let mut other = p.client("other");
    match other.set_control(menu.id, "nope") {
        Err(ClientError::Rejected { code, message, .. }) => {
            assert_eq!(code, "bad_value");
            assert!(message.len() < 1024, "a {}-byte error: {}", message.len(), &message[..200]);
            assert!(message.contains("\"option number 0\"") && message.contains("and 1016 more"), "{message}");
            assert!(message.ends_with("found \"nope\""), "{message}");
        }
        r => panic!("expected a refusal, got {r:?}"),
    }
}

#[test]
fn reconnecting_as_new_clients_cannot_exceed_the_total_of_controls() {
    let p = Periscope::start("[scene]\nmax_controls_per_client = 5\nmax_controls = 12\n");
    let mut refused = None;
    'clients: for n in 0..4 {
        let mut v = p.client(&format!("guest{n}"));
        for i in 0..5 {
            match v.add_control("button", &format!("B{i}"), vec![]) {
                Ok(_) => {}
                Err(ClientError::Rejected { code, message, .. }) => {
                    refused = Some((n, i, code, message));
                    break 'clients;
                }
                Err(e) => panic!("{e}"),
            }
        }
        v.close().unwrap();
    }
    let (n, i, code, message) = refused.expect("the total was never reached");
    assert_eq!((n, i), (2, 2), "the 13th control is refused");
    assert_eq!(code, "limit");
    assert!(message.contains("scene.max_controls"), "{message}");
    let mut v = p.client("counter");
    assert_eq!(v.controls().unwrap().len(), 12);
}

#[test]
fn integers_a_control_cannot_hold_exactly_are_refused() {
    let p = Periscope::start("");
    let mut v = p.client("ints");
    let big = (1i64 << 53) + 1;
    match v.add_control("number", "N", vec![kw("value", big)]) {
        Err(ClientError::Rejected { message, .. }) => {
            assert!(message.contains("field \"value\"") && message.contains("2^53"), "{message}");
        }
        r => panic!("expected a refusal, got {r:?}"),
    }
    match v.add_control("number", "N", vec![kw("max", Value::UInt(u64::MAX))]) {
        Err(ClientError::Rejected { message, .. }) => assert!(message.contains("field \"max\""), "{message}"),
        r => panic!("expected a refusal, got {r:?}"),
    }
    let n = v.add_control("number", "N", vec![kw("value", 1i64 << 53)]).unwrap();
    assert_eq!(n.state.get("value").and_then(Value::as_i64), Some(1 << 53), "2^53 itself is exact");
    match v.set_control(n.id, Value::Float(1e300)) {
        Err(ClientError::Rejected { message, .. }) => assert!(message.contains("2^53"), "{message}"),
        r => panic!("expected a refusal, got {r:?}"),
    }
    let state = v.set_control(n.id, -(1i64 << 53)).unwrap();
    assert_eq!(state.get("value").and_then(Value::as_i64), Some(-(1 << 53)));
}
