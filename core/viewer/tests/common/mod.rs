//! Starts the real `periscope --headless` binary on an ephemeral loopback port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use periscope_client::Viewer;

pub struct Periscope {
    pub child: Child,
    pub addr: SocketAddr,
    config: PathBuf,
}

static N: AtomicUsize = AtomicUsize::new(0);

impl Periscope {
    /// Starts the viewer with `extra_config` appended to an empty config.
    pub fn start(extra_config: &str) -> Self {
        let config = std::env::temp_dir().join(format!(
            "periscope-test-{}-{}.toml",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&config, extra_config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_periscope"))
            .args(["--headless", "--port", "0", "--log-level", "warn", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start periscope");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("periscope listening on ws://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .unwrap();
        Self { child, addr, config }
    }

    pub fn client(&self, name: &str) -> Viewer {
        Viewer::connect(self.addr, name).expect("connect")
    }

    /// Sends SIGINT and waits for a clean exit.
    pub fn interrupt(mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "periscope did not exit after SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Periscope {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}
