//! The message fuzzer: structured random messages of every client message
//! type in the type table (`MessageType::ALL`), with each type's fields from
//! `MessageType::fields` given random values of every kind (empty arrays, NaN,
//! inf, huge numbers, wrong dtypes, deep nesting, long strings, array-part
//! references, garbage), sent by several clients over real sockets to the real
//! `periscope --headless` binary, so every message takes the real path:
//! decode -> chain -> scene -> reply.
//!
//! It asserts that the viewer never exits (no panic), that every request that
//! expects an answer gets one (its answer type or an error) and that the
//! viewer's memory stays bounded.
//!
//! `make test` runs a short run; `make fuzz` a long one:
//! `PERISCOPE_FUZZ_MESSAGES` (default 3000) messages, `PERISCOPE_FUZZ_SEED`
//! (default: from the clock, printed) to repeat a run.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Periscope;
use periscope_client::Viewer;
use periscope_protocol::{Direction, Envelope, FieldKind, MessageType, NdArray, Value, encode_value};

/// The viewer's peak resident memory may not pass this during a run.
const MAX_PEAK_RSS_MB: u64 = 1024;
/// How long the end of a run waits for the answers still due.
const ANSWER_DEADLINE: Duration = Duration::from_secs(90);

/// splitmix64: small, fast and reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Integers that find edge cases.
const INTS: &[i64] =
    &[0, 1, 2, 3, -1, -2, 7, 64, 255, 256, 65_535, 1 << 31, -(1 << 31), (1 << 53) + 1, i64::MAX, i64::MIN];
/// Floats that find edge cases.
const FLOATS: &[f64] = &[
    0.0,
    -0.0,
    0.5,
    1.0,
    -1.0,
    2.0,
    1e-300,
    1e300,
    f64::MIN_POSITIVE,
    f64::MAX,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    179.9999,
    180.0,
];
/// Strings that find edge cases (long ones are made on demand).
const STRS: &[&str] = &[
    "",
    "a",
    "x.mp4",
    "x.gif",
    "x.png",
    "scene.psr",
    "../escape.psr",
    "/etc/passwd",
    "a\0b.mp4",
    "slider",
    "dropdown",
    "button",
    "number",
    "text",
    "checkbox",
    "color",
    "lines",
    "line_strip",
    "viewport",
    "windows",
    "smplh",
    "neutral",
    "float32",
    "uint8",
    "jpeg",
    "png",
    "\u{202e}rtl",
];

fn small_int(rng: &mut Rng) -> i64 {
    if rng.chance(0.8) { rng.below(8) as i64 } else { rng.pick(INTS) }
}

fn number(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => Value::Int(small_int(rng)),
        1 => Value::Float(rng.pick(FLOATS)),
        _ => Value::Float(f64::from(rng.unit()) * 4.0 - 2.0),
    }
}

fn long_str(rng: &mut Rng) -> String {
    let n = rng.pick(&[300usize, 1025, 70_000, 400_000]);
    "é".repeat(n / 2)
}

fn string(rng: &mut Rng) -> Value {
    if rng.chance(0.05) { Value::Str(long_str(rng)) } else { Value::Str(rng.pick(STRS).to_owned()) }
}

/// A float that is usually ordinary and sometimes NaN, inf or huge.
fn float(rng: &mut Rng, hostile: bool) -> f32 {
    if hostile && rng.chance(0.1) { rng.pick(FLOATS) as f32 } else { rng.unit() * 2.0 - 1.0 }
}

/// A float32 array of `shape`, possibly with non-finite values.
fn floats(rng: &mut Rng, shape: Vec<usize>) -> Value {
    let n: usize = shape.iter().product();
    let hostile = rng.chance(0.2);
    let data: Vec<f32> = (0..n).map(|_| float(rng, hostile)).collect();
    Value::NdArray(NdArray::from_f32(shape, data))
}

/// A row count that often agrees with another array's.
fn rows(rng: &mut Rng) -> usize {
    rng.pick(&[0, 1, 3, 3, 4, 4, 8, 300])
}

/// A well-formed-looking value for `kind` (still possibly out of range).
fn shaped(rng: &mut Rng, kind: FieldKind) -> Value {
    use FieldKind as K;
    let frames = rng.pick(&[1usize, 1, 2, 3]);
    let per_frame = rng.chance(0.3);
    match kind {
        K::Int => Value::Int(small_int(rng)),
        K::Number => number(rng),
        K::Bool => Value::Bool(rng.chance(0.5)),
        K::Str => string(rng),
        K::Point => floats(rng, vec![3]),
        K::Matrix3 => {
            if per_frame {
                floats(rng, vec![frames, 3, 3])
            } else {
                floats(rng, vec![3, 3])
            }
        }
        K::Color => {
            let n = rng.pick(&[3usize, 4]);
            Value::Array((0..n).map(|_| number(rng)).collect())
        }
        K::Rows3 => {
            let n = rows(rng);
            if per_frame { floats(rng, vec![frames, n, 3]) } else { floats(rng, vec![n, 3]) }
        }
        K::Vector => {
            let n = rng.pick(&[0usize, 3, 10, 45, 63, 69]);
            if per_frame { floats(rng, vec![frames, n]) } else { floats(rng, vec![n]) }
        }
        K::IndexRows2 | K::IndexRows3 => {
            let cols = if kind == K::IndexRows2 { 2 } else { 3 };
            let n = rows(rng);
            let data: Vec<i64> = (0..n * cols).map(|_| small_int(rng).wrapping_sub(1)).collect();
            Value::NdArray(NdArray::from_i64(vec![n, cols], data))
        }
        K::Frames => match rng.below(4) {
            0 => Value::Int(small_int(rng)),
            1 => Value::Array(vec![]),
            2 => Value::NdArray(NdArray::from_i64(vec![0], Vec::new())),
            _ => Value::Array((0..rng.below(5)).map(|_| Value::Int(small_int(rng))).collect()),
        },
        K::Image => image(rng),
        K::Images => {
            let n = rng.pick(&[0usize, 1, 2, 3, 100]);
            Value::Array((0..n).map(|_| image(rng)).collect())
        }
        K::Map => map(rng),
        K::Bin => Value::Bin((0..rng.pick(&[0usize, 1, 7, 4096])).map(|_| rng.next() as u8).collect()),
        K::Any => hostile(rng, 0),
    }
}

/// An image of one of the accepted forms, or something close to one.
fn image(rng: &mut Rng) -> Value {
    let (h, w) = (rng.pick(&[0usize, 1, 2, 16]), rng.pick(&[0usize, 1, 3, 16]));
    match rng.below(5) {
        0 => {
            let c = rng.pick(&[1usize, 3, 4, 5]);
            let data: Vec<u8> = (0..h * w * c).map(|_| rng.next() as u8).collect();
            Value::NdArray(NdArray::from_u8(vec![h, w, c], data))
        }
        1 => floats(rng, vec![h, w, 3]),
        2 => Value::Bin(png_header(rng)),
        3 => Value::map([("format", string(rng)), ("data", Value::Bin(png_header(rng)))]),
        _ => hostile(rng, 0),
    }
}

/// The start of a PNG claiming a random (sometimes enormous) size, then garbage.
fn png_header(rng: &mut Rng) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let side = rng.pick(&[1u32, 16, 16_384, 65_535, u32::MAX]);
    out.extend_from_slice(&side.to_be_bytes());
    out.extend_from_slice(&side.to_be_bytes());
    out.extend((0..rng.below(64)).map(|_| rng.next() as u8));
    out
}

/// A map with keys a camera or a camera path reads.
fn map(rng: &mut Rng) -> Value {
    const KEYS: &[&str] = &[
        "target",
        "yaw",
        "pitch",
        "distance",
        "fov_y",
        "width",
        "height",
        "fx",
        "fy",
        "cx",
        "cy",
        "world_to_camera",
        "orbit",
        "turns",
        "radius",
        "keyframes",
        "follow",
        "node",
        "position",
        "time",
        "frame",
        "interpolation",
        "fov",
    ];
    let n = rng.below(5);
    let entries: Vec<(String, Value)> = (0..n)
        .map(|_| {
            let key = rng.pick(KEYS).to_owned();
            let v = match rng.below(4) {
                0 => floats(rng, vec![3]),
                1 => floats(rng, vec![4, 4]),
                2 => map_or_list(rng),
                _ => number(rng),
            };
            (key, v)
        })
        .collect();
    Value::map(entries)
}

fn map_or_list(rng: &mut Rng) -> Value {
    if rng.chance(0.5) { Value::Array(vec![map(rng), map(rng)]) } else { hostile(rng, 2) }
}

/// Any value at all.
fn hostile(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 8 } else { 13 }) {
        0 => Value::Nil,
        1 => Value::Bool(rng.chance(0.5)),
        2 => Value::Int(rng.pick(INTS)),
        3 => Value::Float(rng.pick(FLOATS)),
        4 => string(rng),
        5 => Value::Bin((0..rng.below(32)).map(|_| rng.next() as u8).collect()),
        6 => {
            let n = rng.below(4);
            Value::NdArray(NdArray::from_i64(vec![n], (0..n as i64).collect::<Vec<i64>>()))
        }
        7 => {
            let shape = vec![rng.below(3), 3];
            floats(rng, shape)
        }
        8 => Value::Array((0..rng.below(6)).map(|_| hostile(rng, depth + 1)).collect()),
        9 => Value::map((0..rng.below(4)).map(|i| (format!("k{i}"), hostile(rng, depth + 1)))),
        10 => nested(rng.pick(&[10usize, 60, 200])),
        11 => Value::Array((0..rng.pick(&[1000usize, 20_000])).map(|i| Value::Int(i as i64)).collect()),
        // An array-part reference to a transfer that was never sent, or an n-d
        // array map with fields missing.
        _ => Value::Map(vec![
            (Value::from(periscope_protocol::NDARRAY_KEY), string(rng)),
            (Value::from("shape"), Value::Array(vec![Value::Int(small_int(rng)), Value::Int(3)])),
            (Value::from(if rng.chance(0.5) { "transfer" } else { "data" }), Value::Int(small_int(rng))),
        ]),
    }
}

/// Lists nested `depth` deep.
fn nested(depth: usize) -> Value {
    (0..depth).fold(Value::Int(1), |inner, _| Value::Array(vec![inner]))
}

/// One random message of type `t`.
fn message(rng: &mut Rng, kind: i64) -> Envelope {
    let mut env = Envelope::new(kind);
    if rng.chance(0.85) {
        env.uid = Some(if rng.chance(0.9) { rng.below(6) as i64 } else { rng.pick(INTS) });
    }
    let fields = MessageType::from_i64(kind).map(MessageType::fields).unwrap_or(&[]);
    // Creation and frame messages also take their data positionally.
    let positional = rng.chance(0.2);
    for (i, f) in fields.iter().enumerate() {
        if !rng.chance(if i < 2 { 0.8 } else { 0.4 }) {
            continue;
        }
        let v = if rng.chance(0.75) { shaped(rng, f.kind) } else { hostile(rng, 0) };
        if positional && i < 2 {
            env.args.push(v);
        } else {
            env.kwargs.push((f.name.to_owned(), v));
        }
    }
    if rng.chance(0.05) {
        env.kwargs.push(("not_a_field".to_owned(), hostile(rng, 0)));
    }
    if rng.chance(0.05) {
        env.args.push(hostile(rng, 0));
    }
    env
}

/// A message type to send: every client message type, sometimes a
/// viewer -> client type, an unknown number or a user message.
fn pick_kind(rng: &mut Rng, client_types: &[MessageType]) -> i64 {
    match rng.below(40) {
        0 => rng.pick(&[7i64, 99, 499, 9999, -1, i64::MAX]),
        1 => rng.pick(MessageType::ALL).as_i64(),
        2 => 10_000 + rng.below(1000) as i64,
        _ => rng.pick(client_types).as_i64(),
    }
}

/// A client of the fuzz run: its connection and the answers it waits for.
struct FuzzClient {
    viewer: Viewer,
    /// seq -> (the type that answers it, the request's type, when sent).
    due: HashMap<u64, (MessageType, i64, Instant)>,
}

impl FuzzClient {
    fn connect(p: &Periscope, n: usize) -> Option<Self> {
        let mut viewer = Viewer::connect(p.addr, &format!("fuzz-{n}")).ok()?;
        // Small arrays only; parts are fuzzed as ARRAY_PART messages of their own.
        viewer.set_array_parts(false);
        Some(Self { viewer, due: HashMap::new() })
    }

    /// Reads what has arrived and checks off the answers. False when the connection is gone.
    fn read(&mut self) -> bool {
        match self.viewer.drain() {
            Ok(replies) => {
                for r in replies {
                    if std::env::var_os("PERISCOPE_FUZZ_DEBUG").is_some() {
                        eprintln!(
                            "DBG recv client {} kind {} ref_seq {:?}",
                            self.viewer.client_id(),
                            r.kind(),
                            r.ref_seq()
                        );
                    }
                    let Some(seq) = r.ref_seq() else { continue };
                    let answers = match self.due.get(&seq) {
                        Some(&(answer, ..)) => r.kind() == answer.as_i64() || r.kind() == MessageType::Error.as_i64(),
                        None => false,
                    };
                    if answers {
                        self.due.remove(&seq);
                    }
                }
                true
            }
            Err(_) => false,
        }
    }
}

fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kb / 1024
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn random_messages_of_every_type_never_crash_and_every_request_is_answered() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let seed = env_num("PERISCOPE_FUZZ_SEED", now);
    let total = env_num("PERISCOPE_FUZZ_MESSAGES", 3000) as usize;
    eprintln!("fuzz: {total} messages, PERISCOPE_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let client_types: Vec<MessageType> =
        MessageType::ALL.iter().copied().filter(|t| t.traits().direction == Direction::ToViewer).collect();

    let p = Periscope::start_in(
        common::test_dir(),
        "[viewer]\nvideo_width = 64\nvideo_height = 48\nscreenshot_width = 64\nscreenshot_height = 48\n",
        true,
    );
    let pid = p.child.id();
    let mut clients: Vec<FuzzClient> = (0..3).map(|n| FuzzClient::connect(&p, n).expect("connect")).collect();
    let mut reconnects = 0usize;
    let mut by_type: HashMap<i64, usize> = HashMap::new();
    let mut last: Vec<String> = Vec::new();

    let alive = |p: &mut Periscope, last: &[String]| {
        if let Some(status) = p.child.try_wait().unwrap() {
            let log = p.log();
            let lines: Vec<&str> = log.lines().collect();
            // The panic's own lines, else the end of the log.
            let start = lines.iter().position(|l| l.contains("panicked at")).unwrap_or(lines.len().saturating_sub(30));
            let tail = lines[start..].iter().take(30).copied().collect::<Vec<_>>().join("\n");
            let kept = keep_log(p, seed);
            panic!(
                "the viewer exited ({status}) — PERISCOPE_FUZZ_SEED={seed}, viewer log: {kept}\nlast messages:\n{}\nlog tail:\n{tail}",
                last.join("\n")
            );
        }
    };
    let mut p = p;

    let started = Instant::now();
    for i in 0..total {
        let c = rng.below(clients.len());
        let kind = pick_kind(&mut rng, &client_types);
        let env = message(&mut rng, kind);
        *by_type.entry(kind).or_default() += 1;
        let summary = format!(
            "#{i} client {c} type {kind} uid {:?} kwargs {:?}",
            env.uid,
            env.kwargs.iter().map(|(k, v)| format!("{k}={}", short(v))).collect::<Vec<_>>()
        );
        last.push(summary);
        if last.len() > 12 {
            last.remove(0);
        }
        let answer = MessageType::from_i64(kind).and_then(|t| t.traits().answer);
        let client = &mut clients[c];
        let sent = if rng.chance(0.03) {
            // A damaged frame: the decoder must refuse it without harm.
            let mut bytes = encode_value(&env.to_value());
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            client
                .viewer
                .raw_socket()
                .send(tungstenite::Message::binary(bytes))
                .map(|_| None)
                .map_err(|e| e.to_string())
        } else {
            client.viewer.send(env).map(Some).map_err(|e| e.to_string())
        };
        let ok = match sent {
            Ok(Some(seq)) => {
                if std::env::var_os("PERISCOPE_FUZZ_DEBUG").is_some() {
                    eprintln!("DBG sent client {} seq {seq} {}", client.viewer.client_id(), last.last().unwrap());
                }
                if let Some(a) = answer {
                    client.due.insert(seq, (a, kind, Instant::now()));
                }
                client.read()
            }
            Ok(None) => client.read(),
            Err(_) => false,
        };
        if !ok {
            // The viewer may close a connection that broke the protocol (a
            // damaged frame); it must still be running.
            reconnects += 1;
            let mut again = None;
            for _ in 0..50 {
                alive(&mut p, &last);
                again = FuzzClient::connect(&p, 100 + reconnects);
                if again.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            clients[c] = again.expect("the viewer is running but refuses connections");
        }
        if i % 100 == 0 {
            alive(&mut p, &last);
        }
        if i > 0 && i % 5000 == 0 {
            eprintln!("fuzz: {i} messages sent, {:?}", started.elapsed());
        }
    }

    // Every answer still due must arrive.
    let deadline = Instant::now() + ANSWER_DEADLINE;
    while clients.iter().any(|c| !c.due.is_empty()) && Instant::now() < deadline {
        for c in &mut clients {
            if !c.read() {
                alive(&mut p, &last);
                c.due.clear();
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    alive(&mut p, &last);
    let missing: Vec<String> = clients
        .iter()
        .flat_map(|c| {
            let id = c.viewer.client_id();
            c.due.iter().map(move |(seq, (a, kind, at))| {
                format!("client {id} seq {seq} type {kind} (wants {}) sent {:?} ago", a.name(), at.elapsed())
            })
        })
        .collect();
    if !missing.is_empty() {
        for (n, c) in clients.iter_mut().enumerate() {
            let probe = c.viewer.query().map(|_| "answers a query".to_owned()).unwrap_or_else(|e| e.to_string());
            eprintln!("client {n}: {} answers due; its connection now: {probe}", c.due.len());
        }
        let kept = keep_log(&p, seed);
        panic!("requests never answered (PERISCOPE_FUZZ_SEED={seed}, viewer log: {kept}):\n{}", missing.join("\n"));
    }

    // Still serving: a fresh client's query is answered.
    let mut fresh = p.client("after-fuzz");
    fresh.query().expect("the viewer answers a query after the run");
    let peak = peak_rss_mb(pid);
    let covered = client_types.iter().filter(|t| by_type.contains_key(&t.as_i64())).count();
    eprintln!(
        "fuzz: {total} messages of {} types ({covered} of {} client types) in {:?}, {reconnects} reconnects, peak RSS {peak} MB",
        by_type.len(),
        client_types.len(),
        started.elapsed()
    );
    assert!(peak <= MAX_PEAK_RSS_MB, "peak RSS {peak} MB over {MAX_PEAK_RSS_MB} MB (PERISCOPE_FUZZ_SEED={seed})");
    if total >= 2000 {
        assert_eq!(covered, client_types.len(), "every client message type is sent");
    }
}

/// Copies the viewer's log out of its directory (removed with the viewer) for a failure report.
fn keep_log(p: &Periscope, seed: u64) -> String {
    let to = std::env::temp_dir().join(format!("periscope-fuzz-{seed}.log"));
    match std::fs::copy(p.dir().join("viewer.log"), &to) {
        Ok(_) => to.display().to_string(),
        Err(e) => format!("not kept: {e}"),
    }
}

/// A value in a line of the failure report.
fn short(v: &Value) -> String {
    let s = match v {
        Value::NdArray(a) => format!("{}{:?}", a.dtype(), a.shape()),
        Value::Str(s) if s.len() > 24 => format!("str({} bytes)", s.len()),
        Value::Array(items) if items.len() > 4 => format!("list({})", items.len()),
        other => format!("{other:?}"),
    };
    s.chars().take(80).collect()
}

/// One random HTTP request for the HTTP front end, and the status it must get
/// when the request is well formed (`None`: any refusal, or a silent close).
fn http_request(rng: &mut Rng, bundle: &periscope_server::WebBundle) -> (Vec<u8>, Option<u16>) {
    let mut well_formed = true;
    let method = match rng.below(10) {
        0..=4 => "GET".to_owned(),
        5 => "HEAD".to_owned(),
        6 => rng.pick(&["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT"]).to_owned(),
        7 => {
            well_formed = false;
            rng.pick(&["get", "G ET", "", "GET\0", "\u{e9}T", "GETGETGETGETGETGETGET"]).to_owned()
        }
        8 => {
            well_formed = false;
            (0..rng.below(24)).map(|_| char::from(rng.below(256) as u8)).collect()
        }
        _ => "GET".to_owned(),
    };
    let names: Vec<String> = bundle.files.iter().map(|f| format!("/{}", f.path)).collect();
    let path = match rng.below(12) {
        0 => "/".to_owned(),
        1 => "/index.html".to_owned(),
        2 if !names.is_empty() => names[rng.below(names.len())].clone(),
        3 => rng
            .pick(&[
                "/../Cargo.toml",
                "/%2e%2e/%2e%2e/etc/passwd",
                "/..%2f..%2fetc/passwd",
                "//etc/passwd",
                "/.git/config",
            ])
            .to_owned(),
        4 => format!("/index.html?{}", "q=1&".repeat(rng.below(50))),
        5 => format!("/{}", "a/".repeat(rng.below(3000))),
        6 => {
            well_formed = false;
            (0..rng.below(64)).map(|_| char::from(rng.below(128) as u8)).collect()
        }
        7 => "*".to_owned(),
        _ => format!("/{}", (0..rng.below(20)).map(|_| char::from(b'a' + rng.below(26) as u8)).collect::<String>()),
    };
    let version = match rng.below(8) {
        0 => "HTTP/1.0",
        1 => {
            well_formed = false;
            rng.pick(&["HTTP/2", "HTTP/1.1 extra", "", "http/1.1", "HTTP/9.9"])
        }
        _ => "HTTP/1.1",
    };
    let mut head = format!("{method} {path} {version}\r\n");
    for _ in 0..rng.below(8) {
        head.push_str(rng.pick(&[
            "Host: 127.0.0.1\r\n",
            "Accept-Encoding: gzip, deflate, br\r\n",
            "Accept-Encoding: identity\r\n",
            "Accept-Encoding: gzip;q=0\r\n",
            "If-None-Match: \"nope\"\r\n",
            "If-None-Match: *\r\n",
            "Connection: keep-alive\r\n",
            "Content-Length: 5\r\n",
            "Transfer-Encoding: chunked\r\n",
            "Range: bytes=0-10\r\n",
            "Cookie: a=b\r\n",
        ]));
    }
    match rng.below(12) {
        0 => {
            well_formed = false;
            head.push_str(&format!("X-Big: {}\r\n", "b".repeat(8_000 + rng.below(40_000))));
        }
        1 => {
            well_formed = false;
            for i in 0..(60 + rng.below(100)) {
                head.push_str(&format!("X-{i}: v\r\n"));
            }
        }
        2 => {
            well_formed = false;
            head.push_str(rng.pick(&["No colon here\r\n", ": empty name\r\n", "X\u{7f}: v\r\n", " folded: x\r\n"]));
        }
        3 => {
            // A WebSocket upgrade without its key: tungstenite's to refuse.
            well_formed = false;
            head.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        }
        _ => {}
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if rng.chance(0.05) {
        bytes.extend((0..rng.below(4096)).map(|_| rng.below(256) as u8));
    }
    if !well_formed || !bytes.is_ascii() || bytes.len() > periscope_server::MAX_HEAD_BYTES {
        return (bytes, None);
    }
    let status = if method != "GET" && method != "HEAD" {
        405
    } else {
        let name = path.split('?').next().unwrap_or("");
        let name = if name == "/" { "/index.html" } else { name };
        let served = names.iter().any(|n| n == name) || (bundle.is_empty() && name == "/index.html");
        let revalidated = head_has(&bytes, "If-None-Match: *");
        match (served, revalidated && !bundle.is_empty()) {
            (true, true) => 304,
            (true, false) => 200,
            (false, _) => 404,
        }
    };
    (bytes, Some(status))
}

fn head_has(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

/// Reads what the server answers until it closes (a reset ends it too).
fn read_answer(s: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn random_http_requests_are_answered_or_refused_and_websocket_clients_stay_served() {
    use std::io::Write;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let seed = env_num("PERISCOPE_FUZZ_SEED", now);
    let total = env_num("PERISCOPE_FUZZ_HTTP", 400) as usize;
    eprintln!("fuzz http: {total} requests, PERISCOPE_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let bundle = periscope_viewer::web_bundle();
    let mut p = Periscope::start_in(common::test_dir(), "[server]\nhandshake_timeout_ms = 2000\n", true);
    let pid = p.child.id();
    let mut ws = p.client("beside-http");
    // Half-sent requests left open: closed at the handshake deadline.
    let mut silent = Vec::new();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for i in 0..total {
        let (request, expected) = http_request(&mut rng, &bundle);
        let mut s = std::net::TcpStream::connect(p.addr).expect("the viewer accepts");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        if rng.chance(0.1) {
            // Part of the request, then silence.
            let cut = rng.below(request.len());
            let _ = s.write_all(&request[..cut]);
            if silent.len() >= 8 {
                silent.remove(0);
            }
            silent.push(s);
            continue;
        }
        // Sometimes in pieces, as a slow client would send it.
        let mut sent = 0;
        while sent < request.len() {
            let n = if rng.chance(0.2) { 1 + rng.below(64) } else { request.len() - sent };
            if s.write_all(&request[sent..sent + n.min(request.len() - sent)]).is_err() {
                break;
            }
            sent += n.min(request.len() - sent);
        }
        let raw = read_answer(&mut s);
        let text = String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned();
        let status = if raw.is_empty() {
            None
        } else {
            assert!(raw.starts_with(b"HTTP/1.1 "), "request {i}: not an HTTP answer: {text:?} (seed {seed})");
            Some(text[9..12].parse::<u16>().unwrap_or_else(|_| panic!("request {i}: {text:?} (seed {seed})")))
        };
        if let Some(st) = status {
            *statuses.entry(st).or_default() += 1;
        }
        match expected {
            Some(want) => assert_eq!(
                status,
                Some(want),
                "request {i}: {:?} answered {text:?} (seed {seed})",
                String::from_utf8_lossy(&request[..request.len().min(200)])
            ),
            None => assert!(
                status.is_none_or(|st| (400..500).contains(&st) || st == 200 || st == 304 || st == 404),
                "request {i}: a bad request answered {text:?} (seed {seed})"
            ),
        }
        if i % 50 == 0 {
            ws.query().unwrap_or_else(|e| panic!("a WebSocket client beside the HTTP requests: {e} (seed {seed})"));
        }
    }
    drop(silent);
    assert!(p.child.try_wait().unwrap().is_none(), "the viewer is still running (seed {seed})");
    let mut fresh = p.client("after-http-fuzz");
    fresh.query().expect("the viewer answers a query after the run");
    ws.query().expect("the client that stayed connected is still served");
    let peak = peak_rss_mb(pid);
    eprintln!("fuzz http: statuses {statuses:?}, peak RSS {peak} MB");
    assert!(peak <= MAX_PEAK_RSS_MB, "peak RSS {peak} MB (PERISCOPE_FUZZ_SEED={seed})");
}
