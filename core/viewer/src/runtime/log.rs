//! The UI log (recent lines, each with its level and time of day) and
//! every client's traffic (messages, bytes, errors, rates) for the Server panel.

use std::time::Instant;

use super::Runtime;

/// Lines kept for the UI's log panel.
const LOG_LINES: usize = 500;

/// How serious a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// One line of the UI log.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub at: Instant,
    /// Wall-clock time of day (UTC, like the terminal log), `HH:MM:SS`.
    pub clock: String,
    pub level: Level,
    pub text: String,
}

/// `HH:MM:SS` (UTC) of `t`: the same clock the terminal log prints, and it
/// stays right in a window that does not repaint while idle.
fn clock(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Traffic of one client, for the Server panel.
#[derive(Clone, Debug, Default)]
pub struct ClientStats {
    pub messages: u64,
    pub bytes: u64,
    /// Messages refused by the server or failed in the chain.
    pub errors: u64,
    /// Messages and bytes per second over the last sampling interval.
    pub rate_messages: f64,
    pub rate_bytes: f64,
    sampled: (u64, u64),
}

impl Runtime {
    /// Adds an info line to the UI log (and the tracing log).
    pub fn info(&mut self, text: String) {
        tracing::info!("{text}");
        self.note(Level::Info, text);
    }

    /// Adds an error line to the UI log (and the tracing log); the window shows it as a toast.
    pub fn error(&mut self, text: String) {
        tracing::error!("{text}");
        self.note(Level::Error, text);
    }

    pub(super) fn note(&mut self, level: Level, text: String) {
        if self.log.len() >= LOG_LINES {
            self.log.pop_front();
        }
        let clock = clock(std::time::SystemTime::now());
        self.log.push_back(LogLine { at: Instant::now(), clock, level, text });
    }

    /// Traffic of client `id` (zeros for an unknown one).
    pub fn client_stats(&self, id: u64) -> ClientStats {
        self.clients.get(&id).cloned().unwrap_or_default()
    }

    /// Updates the per-client rates when a second has passed since the last sample.
    pub fn sample_rates(&mut self) {
        let dt = self.last_sample.elapsed().as_secs_f64();
        if dt < 1.0 {
            return;
        }
        self.last_sample = Instant::now();
        for s in self.clients.values_mut() {
            s.rate_messages = (s.messages - s.sampled.0) as f64 / dt;
            s.rate_bytes = (s.bytes - s.sampled.1) as f64 / dt;
            s.sampled = (s.messages, s.bytes);
        }
    }

    /// Recent log lines, oldest first.
    pub fn log(&self) -> impl DoubleEndedIterator<Item = &LogLine> {
        self.log.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn log_clock_is_utc_time_of_day() {
        assert_eq!(super::clock(UNIX_EPOCH + Duration::from_secs(3 * 86_400 + 3_661)), "01:01:01");
        assert_eq!(super::clock(UNIX_EPOCH + Duration::from_secs(86_399)), "23:59:59");
    }
}
