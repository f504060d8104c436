//! Load and fault tests against the real binary on loopback: many clients,
//! clients that die, stall, trickle or flood, and a misbehaving script and
//! plugin under load. Each ends with a check that everyone else still works.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Periscope, test_dir};
use periscope_client::Viewer;
use periscope_protocol::{Envelope, MessageType, NdArray, Reply, Value, encode_value};

fn one_point(v: f32) -> Value {
    NdArray::from_f32(vec![1, 3], vec![v; 3]).into()
}

/// A client still gets answers and its data is kept.
fn still_serves(p: &Periscope) {
    let mut v = p.client("after");
    let uid = v.spheres(NdArray::from_f32(vec![1, 3], vec![7.0; 3]), vec![]).unwrap();
    assert_eq!(v.query_data(uid, "positions", 0).unwrap().to_f32()[0], 7.0);
}

#[test]
fn sixty_four_clients_five_thousand_messages_each_in_order() {
    // Clients take turns in the queue: a query is not stuck behind 64 floods.
    let p = Periscope::start("");
    let addr = p.addr;
    let start = Instant::now();
    let threads: Vec<_> = (0..64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut v = Viewer::connect(addr, &format!("load{i}")).unwrap();
                let uid = v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
                for f in 1..5000 {
                    v.add_frames(uid, vec![one_point(f as f32)], vec![]).unwrap();
                }
                // Handled in order: frame k holds value k for every k checked.
                for k in [1i64, 999, 2500, 4999] {
                    assert_eq!(v.query_data(uid, "positions", k).unwrap().to_f32()[0], k as f32);
                }
            })
        })
        .collect();
    // The viewer stays responsive while it ingests: a query from another
    // client is answered while the floods go on, not after them.
    let mut probe = p.client("probe");
    let mut latencies = Vec::new();
    while threads.iter().any(|t| !t.is_finished()) {
        let t0 = Instant::now();
        probe.query().unwrap();
        latencies.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    for t in threads {
        t.join().unwrap();
    }
    let s = probe.query().unwrap();
    assert_eq!(s.nodes.len(), 64);
    assert!(s.nodes.iter().all(|n| n.n_frames == 5000), "no message lost");
    let total = start.elapsed();
    latencies.sort();
    let worst = latencies.last().copied().unwrap_or_default();
    let median = latencies.get(latencies.len() / 2).copied().unwrap_or_default();
    eprintln!(
        "64 x 5000 messages in {:.1} s; {} queries during the load: median {median:?}, slowest {worst:?}",
        total.as_secs_f32(),
        latencies.len()
    );
    // Relative bounds, not wall-clock ones: a 2-core CI machine running 130
    // busy threads (and other tests) is slow, but a query stuck behind the
    // floods (plain FIFO) would wait for most of the run. Round-robin turns
    // keep every answer a small fraction of it.
    assert!(latencies.len() >= 5, "too few probes to judge ({} in {total:?})", latencies.len());
    assert!(median < total / 50, "queries were slow during the load: median {median:?} of a {total:?} run");
    assert!(worst < total / 5, "a query waited {worst:?} during a {total:?} run");
}

#[test]
fn client_killed_mid_frame_does_not_hurt_others() {
    let p = Periscope::start("");
    let mut other = p.client("other");
    let uid = other.spheres(NdArray::from_f32(vec![1, 3], vec![1.0; 3]), vec![]).unwrap();
    // A client starts a large binary frame and vanishes halfway through.
    let mut v = p.client("dies");
    let big = encode_value(
        &Envelope::new(MessageType::Spheres.as_i64())
            .with_uid(1)
            .with_arg(NdArray::from_f32(vec![100_000, 3], vec![0.5; 300_000]))
            .to_value(),
    );
    let sock = v.raw_socket().get_mut();
    // WebSocket header for a masked binary frame with a 64-bit length, then half the payload.
    let mut header = vec![0x82, 0xFF];
    header.extend((big.len() as u64).to_be_bytes());
    header.extend([0, 0, 0, 0]); // zero mask
    sock.write_all(&header).unwrap();
    sock.write_all(&big[..big.len() / 2]).unwrap();
    sock.flush().unwrap();
    drop(v);
    other.add_frames(uid, vec![one_point(2.0)], vec![]).unwrap();
    assert_eq!(other.query_data(uid, "positions", 1).unwrap().to_f32()[0], 2.0);
    still_serves(&p);
}

/// The resident memory of a process, in bytes (`VmRSS` in /proc).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn client_that_never_reads_replies_costs_bounded_memory_and_only_its_connection() {
    let p = Periscope::start_in(
        test_dir(),
        "[server]
outbox_bytes = 8388608
",
        true,
    );
    let mut lazy = p.client("lazy");
    // 3000 nodes with 1000-byte names: every scene_state answer weighs about 3.4 MB.
    for i in 0..3000 {
        let name = format!("{i:01000}");
        lazy.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![periscope_client::kw("name", name)]).unwrap();
    }
    assert_eq!(lazy.query().unwrap().nodes.len(), 3000);
    let before = rss(p.child.id());
    // 60 queries it does not read for now: the viewer holds at most its write
    // buffer (64 MiB) and the outbox (8 MiB), some 25 answers with what the
    // sockets take; the answers that do not fit become outbox_full errors.
    // The first answer always fits (the outbox is empty), so fewer than the
    // reserve of 64 errors are needed and the connection stays open.
    let sent: Vec<u64> =
        (0..60).map(|_| lazy.send_message(MessageType::Query.as_i64(), None, vec![], vec![]).unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !p.log().contains("sent an outbox_full error instead") {
        assert!(Instant::now() < deadline, "no answer was refused for the client that does not read:\n{}", p.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // When it reads at last, every query has exactly one reply: the answer
    // itself, or an outbox_full error citing it. None is lost silently.
    let mut answered = std::collections::BTreeSet::new();
    let (mut answers, mut refused) = (0, 0);
    while answered.len() < sent.len() {
        let reply = lazy.recv(Duration::from_secs(30)).unwrap().unwrap_or_else(|| {
            panic!(
                "{} of {} queries got no reply ({answers} answers, {refused} outbox_full)",
                sent.len() - answered.len(),
                sent.len()
            )
        });
        let seq = match reply {
            Reply::SceneState(s) => {
                assert_eq!(s.nodes.len(), 3000, "an answer is whole");
                answers += 1;
                s.ref_seq
            }
            Reply::Problem { warning: false, code, message, ref_seq, ref_type, .. } if code == "outbox_full" => {
                assert_eq!(ref_type, Some(MessageType::Query.as_i64()), "{message}");
                assert!(message.contains("server.outbox_bytes = 8388608"), "{message}");
                refused += 1;
                ref_seq
            }
            other => panic!("unexpected reply: {other:?}"),
        };
        let seq = seq.expect("each reply cites its query");
        assert!(sent.contains(&seq), "a reply to {seq}, which was not sent in this batch");
        assert!(answered.insert(seq), "query {seq} was answered twice");
    }
    assert!(refused > 0 && answers > 0, "{answers} answers and {refused} outbox_full errors");
    assert!(lazy.drain().unwrap().is_empty(), "nothing beyond one reply per query");
    // 150 more queries (500 MB of answers) it never reads: past the reserve
    // of outbox_full errors the viewer closes the connection instead of
    // dropping answers silently.
    for _ in 0..150 {
        if lazy.send_message(MessageType::Query.as_i64(), None, vec![], vec![]).is_err() {
            break;
        }
    }
    let mut other = p.client("other");
    // A liveness bound, not a speed: the debug viewer builds some 150 answers
    // of 3.4 MB first, and on a loaded 2-core CI machine, beside this file's
    // other tests, that once took longer than a minute.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut peak = 0;
    loop {
        peak = peak.max(rss(p.child.id()));
        let state = other.query().unwrap();
        if state.clients.iter().any(|c| c.name == "lazy" && !c.connected) {
            break;
        }
        if Instant::now() >= deadline {
            // It failed once in CI and never here: say what the viewer said, for the next look.
            let log = p.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "the client that never reads was not disconnected (clients: {:?}); the viewer's log ends:\n{}",
                state.clients.iter().map(|c| (&c.name, c.connected)).collect::<Vec<_>>(),
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let grew = peak.saturating_sub(before);
    assert!(grew < 200 << 20, "the viewer grew by {} MB for a client that never reads", grew >> 20);
    // Closed for not reading (not for another reason), and said so in the log.
    let log = p.log();
    assert!(
        log.lines().any(|l| l.contains("connection closed") && l.contains("the client is not reading its replies")),
        "the log says why the connection was closed:\n{log}"
    );
    still_serves(&p);
}

#[test]
fn slowloris_is_closed_at_the_handshake_deadline() {
    let p = Periscope::start("[server]\nhandshake_timeout_ms = 500\n");
    // Trickles the HTTP upgrade a byte at a time, never finishing.
    let mut slow = TcpStream::connect(p.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    let start = Instant::now();
    let mut closed = false;
    for b in request.iter().cycle().take(200) {
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(0) = slow.read(&mut buf) {
            closed = true;
            break;
        }
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(closed, "a trickling connection must be closed");
    assert!(start.elapsed() < Duration::from_secs(3), "closed after {:?}", start.elapsed());
    // A connection that upgrades but never says hello is closed too.
    let silent = TcpStream::connect(p.addr).unwrap();
    let (mut ws, _) = tungstenite::client(format!("ws://{}/", p.addr), silent).unwrap();
    ws.get_mut().set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let t0 = Instant::now();
    assert!(ws.read().is_err(), "no hello: the viewer hangs up");
    assert!(t0.elapsed() < Duration::from_secs(2));
    still_serves(&p);
}

#[test]
fn flood_beyond_the_size_limit_closes_that_connection_only() {
    let p = Periscope::start("[server]\nmax_message_bytes = 100000\n");
    let mut ok = p.client("fine");
    let uid = ok.spheres(NdArray::from_f32(vec![1, 3], vec![1.0; 3]), vec![]).unwrap();
    // In parts (the default), a too big array is refused, naming the limit,
    // and that connection goes on.
    let mut big = p.client("big");
    big.spheres(NdArray::from_f32(vec![20_000, 3], vec![0.0; 60_000]), vec![]).unwrap();
    let problem = big.query().err().map(|e| e.to_string()).unwrap_or_default();
    let refused = problem.contains("max_message_bytes")
        || big.drain().unwrap().iter().any(|r| matches!(r, Reply::Problem { message, .. } if message.contains("exceeds server.max_message_bytes (100000)")));
    assert!(refused, "the array over the limit is refused: {problem}");
    assert!(big.query().is_ok(), "and the connection goes on");
    // Whole, one frame over the limit closes that connection (1009).
    let mut flood = p.client("flood");
    flood.set_array_parts(false);
    let r = flood.spheres(NdArray::from_f32(vec![20_000, 3], vec![0.0; 60_000]), vec![]);
    let closed = r.is_err() || flood.query().is_err();
    assert!(closed, "the flooding connection is closed (1009)");
    ok.add_frames(uid, vec![one_point(3.0)], vec![]).unwrap();
    assert_eq!(ok.query_data(uid, "positions", 1).unwrap().to_f32()[0], 3.0);
}

#[test]
fn reconnect_storm_leaves_the_viewer_healthy() {
    let p = Periscope::start("");
    let addr = p.addr;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    let mut v = Viewer::connect(addr, &format!("storm{t}-{i}")).unwrap();
                    if i % 2 == 0 {
                        v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
                    }
                    if i % 5 == 0 {
                        v.query().unwrap();
                    }
                    // Half close cleanly, half just drop the socket.
                    if i % 3 == 0 {
                        let _ = v.close();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut v = p.client("check");
    let state = v.query().unwrap();
    assert_eq!(state.nodes.len(), 100, "every node of the storm arrived");
    let deadline = Instant::now() + Duration::from_secs(10);
    while v.query().unwrap().clients.iter().filter(|c| c.connected).count() > 1 {
        assert!(Instant::now() < deadline, "storm connections still open");
        std::thread::sleep(Duration::from_millis(50));
    }
    still_serves(&p);
}

#[test]
fn looping_script_and_panicking_plugin_under_load() {
    let dir = test_dir();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(
        dir.join("scripts/spin.rhai"),
        "fn process_message(type, uid, args, kwargs, client) { if type == 10001 { loop { } } }",
    )
    .unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "-q", "-p", "periscope-test-probe"])
        .status()
        .unwrap();
    assert!(status.success());
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_periscope"));
    let probe = exe.parent().unwrap().join(format!(
        "{}periscope_test_probe{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let config = format!(
        "[dispatch]\nchain = [\"probe\", \"builtin\", \"scripts/*.rhai\"]\n[plugins]\npaths = [{:?}]\n\
         [plugins.settings.probe]\nmode = \"panic\"\non_type = 10002\n[scripts]\nmax_failures = 1000000\n",
        probe.display().to_string()
    );
    let p = Periscope::start_in(dir, &config, true);
    let addr = p.addr;
    let bad = std::thread::spawn(move || {
        let mut v = Viewer::connect(addr, "bad").unwrap();
        for i in 0..200 {
            v.send_message(10001 + (i % 2), None, vec![], vec![]).unwrap();
        }
        v.query().unwrap();
    });
    let mut good = Viewer::connect(addr, "good").unwrap();
    let uid = good.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
    for f in 1..500 {
        good.add_frames(uid, vec![one_point(f as f32)], vec![]).unwrap();
    }
    assert_eq!(good.query_data(uid, "positions", 499).unwrap().to_f32()[0], 499.0);
    bad.join().unwrap();
    still_serves(&p);
    let log = p.log();
    assert!(log.contains("too many operations"), "the loop was stopped and reported:\n{log}");
    assert!(log.contains("panic"), "the plugin's panic was caught and reported:\n{log}");
}

/// Found by the message fuzzer: on a machine without Vulkan, wgpu picks a GL
/// adapter, the renderer failed its validation (texture view formats, then the
/// occlusion pipeline) and wgpu's panic ended the viewer at the first
/// screenshot. Now an adapter the renderer cannot use is refused up front: the
/// screenshot is answered with an error naming it, and the viewer goes on.
#[test]
fn a_gl_only_machine_answers_screenshots_with_an_error_instead_of_crashing() {
    let p = Periscope::start_with_env(test_dir(), "[viewer]\nssao = true\n", true, &[("WGPU_BACKEND", "gl")]);
    let mut v = p.client("gl");
    v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
    match v.screenshot(32, 24) {
        // A GL adapter that is fully capable would render: fine too.
        Ok(image) => assert_eq!(image.shape(), &[24, 32, 4]),
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("Vulkan"), "{text}\n{}", p.log());
        }
    }
    still_serves(&p);
}
