//! Plugins configured in config.toml, through the real server.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Periscope, test_dir};
use periscope_protocol::{NdArray, Reply, Value};

fn built(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "-q", "-p", "periscope-stats", "-p", "periscope-recolor"])
        .status()
        .unwrap();
    assert!(status.success());
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_periscope"));
    exe.parent().unwrap().join(format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX))
}

#[test]
fn stats_and_recolor_plugins_from_config() {
    let config = format!(
        "[dispatch]\nchain = [\"stats\", \"builtin\", \"recolor\"]\n[plugins]\npaths = [{:?}, {:?}]\n\
         [plugins.settings.recolor]\npalette = [[0.9, 0.1, 0.1], [0.1, 0.9, 0.1]]\n",
        built("periscope_stats").display().to_string(),
        built("periscope_recolor").display().to_string(),
    );
    let p = Periscope::start_in(test_dir(), &config, false);
    let mut v = p.client("plugged");
    v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
    v.set_frame(0).unwrap();
    let s = v.query().unwrap();
    assert_eq!(s.nodes[0].color, [0.1, 0.9, 0.1, 1.0], "recolor: client 1 gets palette entry 1");
    v.send_message(10_020, None, vec![], vec![]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let fields = loop {
        assert!(std::time::Instant::now() < deadline, "no stats reply");
        if let Some(Reply::Other { kind: 10_021, fields }) = v.recv(Duration::from_millis(200)).unwrap() {
            break fields;
        }
    };
    let total = &fields.iter().find(|(k, _)| k == "total").unwrap().1;
    assert_eq!(total, &Value::Int(3), "spheres, set_frame and the query were counted");
}
