//! The server keeps each received frame with its decoded message only while
//! something reads it (plugins, the recorder); a real client on loopback.

use std::sync::Arc;
use std::time::Duration;

use periscope_client::{Viewer, kw};
use periscope_protocol::{NdArray, Value};
use periscope_server::{ByteQueue, Event, Server, ServerConfig};

fn next_message(queue: &ByteQueue<Event>) -> periscope_protocol::Envelope {
    loop {
        match queue.pop_timeout(Duration::from_secs(10)).expect("an event within 10 s") {
            Event::Message { envelope, .. } => return envelope,
            _ => continue,
        }
    }
}

#[test]
fn frames_are_kept_only_when_asked() {
    let queue = Arc::new(ByteQueue::with_key(64 << 20, 1024, Event::queue_key));
    let config = ServerConfig { port: 0, ..ServerConfig::default() };
    let server = Server::start(config, Arc::clone(&queue)).unwrap();
    let mut v = Viewer::connect(server.local_addr(), "frames").unwrap();
    let points = NdArray::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

    // On by default: the frame travels with the message and its args span is exact.
    v.spheres(points.clone(), vec![kw("radius", 0.5f64)]).unwrap();
    let kept = next_message(&queue);
    let raw = kept.raw.as_ref().expect("the frame is kept by default");
    assert_eq!(
        periscope_protocol::decode_value(raw.args(), Default::default()).unwrap(),
        Value::Array(kept.args.clone())
    );

    // Off: the same message decodes to the same envelope, without the frame.
    server.handle().set_keep_frames(false);
    v.spheres(points, vec![kw("radius", 0.5f64)]).unwrap();
    let dropped = next_message(&queue);
    assert!(dropped.raw.is_none());
    assert_eq!((dropped.kind, &dropped.args, &dropped.kwargs), (kept.kind, &kept.args, &kept.kwargs));
    assert_eq!(dropped.uid, Some(2));
}
