//! Peers that connect and send nothing cannot make the server allocate
//! without bound: connection threads stay within `max_clients` plus a small
//! slack however many idle sockets arrive, a real client connecting during the
//! flood is served, and the threads end when the sockets close.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use periscope_client::Viewer;
use periscope_server::{ByteQueue, Event, Server, ServerConfig};

/// Threads of this process (the server runs in it).
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("Threads:")).expect("Threads line");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a count")
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn idle_sockets_cost_a_bounded_number_of_threads_and_real_clients_still_get_in() {
    const MAX_CLIENTS: usize = 32;
    const IDLE: usize = 1_500;
    let queue = Arc::new(ByteQueue::with_key(64 << 20, 1024, Event::queue_key));
    let config = ServerConfig { port: 0, max_clients: MAX_CLIENTS, handshake_timeout_ms: 60_000, ..Default::default() };
    let server = Server::start(config, Arc::clone(&queue)).unwrap();
    let addr = server.local_addr();
    let handle = server.handle();
    let before = threads();

    let mut idle = Vec::with_capacity(IDLE);
    let mut peak = 0;
    for i in 0..IDLE {
        idle.push(TcpStream::connect(addr).expect("loopback connect"));
        if i % 100 == 0 {
            peak = peak.max(threads());
        }
    }
    // Let the accept thread take every pending connection from the backlog.
    let admission = handle.admission_stats();
    let seen = |a: &periscope_server::AdmissionStats| {
        use std::sync::atomic::Ordering::Relaxed;
        a.admitted.load(Relaxed) + a.refused.load(Relaxed)
    };
    wait_for("the accept thread to take the idle sockets", 20, || seen(admission) as usize >= IDLE);
    peak = peak.max(threads());
    // One thread per slot, the slack for evicted handshakes unwinding, the
    // accept and reaper threads, and a few threads that have given their slot
    // back and are exiting: independent of how many sockets came.
    let bound = MAX_CLIENTS + 16 + 2 + 8;
    assert!(
        peak <= before + bound,
        "{IDLE} idle sockets raised the thread count from {before} to {peak} (bound +{bound})"
    );

    // A real client connecting while every slot is held by idle sockets is served.
    let real = Viewer::connect(addr, "real").expect("a real client is admitted during the flood");
    assert!(real.client_id() > 0);

    // When the idle sockets close, their threads end and only the real client holds a slot.
    drop(idle);
    wait_for("idle connection threads to end", 20, || handle.open_connections() == 1);
    wait_for("the thread count to return", 20, || threads() <= before + 3);
}

#[test]
fn with_every_slot_a_client_a_newcomer_is_told_why() {
    let queue = Arc::new(ByteQueue::with_key(1 << 20, 64, Event::queue_key));
    let config = ServerConfig { port: 0, max_clients: 1, ..Default::default() };
    let server = Server::start(config, Arc::clone(&queue)).unwrap();
    let first = Viewer::connect(server.local_addr(), "first").expect("the one slot");
    let err = match Viewer::connect(server.local_addr(), "second") {
        Ok(_) => panic!("a second client got in with max_clients = 1"),
        Err(e) => format!("{e}"),
    };
    assert!(err.contains("503"), "the refusal says why: {err}");
    assert_eq!(server.handle().admission_stats().refused.load(std::sync::atomic::Ordering::Relaxed), 1);
    drop(first);
    // The slot comes back when the client leaves.
    wait_for("the slot to be free", 10, || server.handle().open_connections() == 0);
    Viewer::connect(server.local_addr(), "third").expect("the freed slot");
}
