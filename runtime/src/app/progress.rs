//! Progress in the terminal: a bar per snapshot (files: their bytes; Postgres: its estimated
//! rows) with rows, rows/s and the time left, then one status line while streaming saying how
//! far behind each source the cache is. Drawn only when stderr is a terminal; log lines print
//! above the bars ([`LogWriter`]), so neither garbles the other.

use crate::sources::LsnProgress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn terminal() -> &'static MultiProgress {
    static TERMINAL: OnceLock<MultiProgress> = OnceLock::new();
    TERMINAL.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// A snapshot's bar: `total` bytes of files, or about `total` rows of a table.
pub struct SnapshotBar {
    bar: ProgressBar,
    rows: u64,
    started: Instant,
}

impl SnapshotBar {
    pub fn files(source: &str, total_bytes: u64) -> Self {
        let style = "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} · {msg} · {eta} left";
        SnapshotBar::new(&format!("files of {source}"), total_bytes, style)
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub fn rows(connection: &str, estimate: Option<u64>) -> Self {
        let style = "{prefix} [{bar:30}] {pos}/~{len} rows · {msg} · {eta} left";
        SnapshotBar::new(
            &format!("snapshot of {connection}"),
            estimate.unwrap_or(0),
            style,
        )
    }

    fn new(name: &str, total: u64, template: &str) -> Self {
        let bar = terminal().add(ProgressBar::new(total));
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_string());
        SnapshotBar {
            bar,
            rows: 0,
            started: Instant::now(),
        }
    }

    /// Counts `rows` more rows and `units` more of the bar's unit (bytes or rows).
    pub fn add(&mut self, rows: u64, units: u64) {
        self.rows += rows;
        self.bar.inc(units);
        let rate = self.rows as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_message(format!("{} rows, {} rows/s", self.rows, rate as u64));
    }

    pub fn done(self) {
        self.bar.finish_and_clear();
    }
}

/// Writes log lines above the bars.
#[derive(Clone, Copy)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        terminal().suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

/// Keeps a status line up to date until `stop`: each source's rows and how far behind it is.
pub fn status_line(connections: Vec<(String, Arc<LsnProgress>)>, stop: Arc<AtomicBool>) {
    if terminal().is_hidden() {
        return;
    }
    let line = terminal().add(ProgressBar::new_spinner());
    while !stop.load(Ordering::Relaxed) {
        let streaming =
            crate::metrics::files_caught_up() && connections.iter().all(|(_, p)| p.committed() > 0);
        if streaming {
            line.set_message(status(&connections));
        }
        line.tick();
        std::thread::sleep(Duration::from_millis(500));
    }
    line.finish_and_clear();
}

fn status(connections: &[(String, Arc<LsnProgress>)]) -> String {
    let mut parts = Vec::new();
    for (source, rows) in crate::metrics::source_rows() {
        parts.push(format!("{source}: {rows} rows"));
    }
    for (source, (bytes, seconds)) in crate::metrics::files_pending() {
        if bytes > 0 {
            parts.push(format!(
                "{source}: {bytes} B of files waiting, {seconds:.1} s old"
            ));
        }
    }
    let now = chrono::Utc::now().timestamp_micros();
    for (name, progress) in connections {
        let (bytes, seconds) = progress.lag(now);
        parts.push(format!("{name}: {bytes} B / {seconds:.1} s behind"));
    }
    format!("streaming · {}", parts.join(" · "))
}
