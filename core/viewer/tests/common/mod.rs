//! Starts the real `periscope --headless` binary on an ephemeral loopback port,
//! with its own directory holding `config.toml` (and any scripts).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use periscope_client::Viewer;

pub struct Periscope {
    pub child: Child,
    pub addr: SocketAddr,
    /// The web view's address from the second stdout line (`open http://...`),
    /// when the viewer printed one (`[server] web = true`).
    pub page: Option<String>,
    dir: PathBuf,
}

static N: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory for one test viewer.
pub fn test_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "periscope-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The repository's example scripts directory.
pub fn example_scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/examples")
}

impl Periscope {
    /// Starts the viewer with `config` as its config.toml in a fresh directory.
    pub fn start(config: &str) -> Self {
        Self::start_in(test_dir(), config, false)
    }

    /// Starts the viewer in `dir` (which may already hold scripts); with
    /// `log_to_file`, stderr goes to `dir/viewer.log` at info level.
    pub fn start_in(dir: PathBuf, config: &str, log_to_file: bool) -> Self {
        Self::start_with_env(dir, config, log_to_file, &[])
    }

    /// [`Self::start_in`] with extra environment variables for the viewer.
    pub fn start_with_env(dir: PathBuf, config: &str, log_to_file: bool, env: &[(&str, &str)]) -> Self {
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let stderr = if log_to_file {
            Stdio::from(std::fs::File::create(dir.join("viewer.log")).unwrap())
        } else {
            Stdio::inherit()
        };
        let level = if log_to_file { "info" } else { "warn" };
        let mut child = Command::new(env!("CARGO_BIN_EXE_periscope"))
            .args(["--headless", "--port", "0", "--log-level", level, "--config"])
            .arg(&config_path)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start periscope");
        let mut line = String::new();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        reader.read_line(&mut line).unwrap();
        // Both lines are written at once: the second is already buffered.
        let rest = String::from_utf8_lossy(reader.buffer()).into_owned();
        let page = rest.lines().next().and_then(|l| l.strip_prefix("open ")).map(str::to_owned);
        let addr = line
            .trim()
            .strip_prefix("periscope listening on ws://")
            .or_else(|| line.trim().strip_prefix("periscope listening on wss://"))
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .unwrap();
        Self { child, addr, page, dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("viewer.log")).unwrap_or_default()
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
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
