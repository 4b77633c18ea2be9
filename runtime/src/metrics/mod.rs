//! Process-wide counters, served as Prometheus text at `GET /metrics` on the REST port.
//!
//! The driver, the generated pipeline and the APIs update them as they work (once per batch or
//! request, never per row). Counters that are checkpointed (late changes) are restored with the
//! operator, so they count since the pipeline's first start; the others count since the
//! process started. Gauges that need the cache or the sources' positions (rows served per
//! endpoint, how far behind each source is) are read when scraped ([`Scrape`]).

mod histogram;

use histogram::Histogram;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Values by one label (a statement, a source, an endpoint).
struct Labelled(Mutex<BTreeMap<&'static str, u64>>);

impl Labelled {
    const fn new() -> Self {
        Labelled(Mutex::new(BTreeMap::new()))
    }

    fn add(&self, label: &'static str, n: u64) {
        let mut values = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *values.entry(label).or_insert(0) += n;
    }

    fn set(&self, label: &'static str, value: u64) {
        let mut values = self.0.lock().unwrap_or_else(|e| e.into_inner());
        values.insert(label, value);
    }

    fn get(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Late changes dropped per TTL'd statement (GUIDE §2).
static LATE_CHANGES: Labelled = Labelled::new();
/// Files committed per file source.
static FILES_INGESTED: Labelled = Labelled::new();
/// Rows (changes) applied per source.
static SOURCE_ROWS: Labelled = Labelled::new();
/// Per file source: bytes of the files found and not yet committed, and the age in seconds of
/// the oldest of them.
static FILES_PENDING: Mutex<BTreeMap<&'static str, (u64, f64)>> = Mutex::new(BTreeMap::new());
/// Changes into and out of each statement.
static STATEMENT_ROWS_IN: Labelled = Labelled::new();
static STATEMENT_ROWS_OUT: Labelled = Labelled::new();
/// REST and gRPC requests per endpoint.
static ENDPOINT_REQUESTS: Labelled = Labelled::new();
/// Rows and secondary index entries read by API queries and counts.
static ROWS_SCANNED: AtomicU64 = AtomicU64::new(0);
/// How long each commit of source transactions took, from its first batch to the commit.
static COMMIT_SECONDS: Histogram = Histogram::new();

/// Whether every file present at the first poll is committed (set after each poll).
static FILES_CAUGHT_UP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes that a poll of the file sources applied every file it found.
pub fn set_files_caught_up() {
    FILES_CAUGHT_UP.store(true, Ordering::Release);
}

/// Whether the file sources have applied what they found at least once (the snapshot).
pub fn files_caught_up() -> bool {
    FILES_CAUGHT_UP.load(Ordering::Acquire)
}

/// Sets the number of late changes `statement` has dropped.
pub fn set_late_changes(statement: &'static str, total: u64) {
    LATE_CHANGES.set(statement, total);
}

/// Late changes dropped so far, per TTL'd statement.
pub fn late_changes() -> BTreeMap<&'static str, u64> {
    LATE_CHANGES.get()
}

/// Sets the number of files `source` has committed.
pub fn set_files_ingested(source: &'static str, files: usize) {
    FILES_INGESTED.set(source, files as u64);
}

/// Files committed so far, per file source.
pub fn files_ingested() -> BTreeMap<&'static str, usize> {
    FILES_INGESTED
        .get()
        .into_iter()
        .map(|(s, n)| (s, n as usize))
        .collect()
}

/// Counts rows (changes) of `source` applied.
pub fn add_source_rows(source: &'static str, rows: usize) {
    SOURCE_ROWS.add(source, rows as u64);
}

/// Rows (changes) applied so far, per source.
pub fn source_rows() -> BTreeMap<&'static str, u64> {
    SOURCE_ROWS.get()
}

/// Per file source: bytes of files found and not committed yet, and the oldest one's age.
pub fn files_pending() -> BTreeMap<&'static str, (u64, f64)> {
    FILES_PENDING.lock().map(|p| p.clone()).unwrap_or_default()
}

/// Sets what file source `source` has found and not yet committed.
pub fn set_files_pending(source: &'static str, bytes: u64, oldest_seconds: f64) {
    let mut pending = FILES_PENDING.lock().unwrap_or_else(|e| e.into_inner());
    pending.insert(source, (bytes, oldest_seconds));
}

/// Counts one batch through `statement` (called by generated code once per batch).
pub fn statement_batch(statement: &'static str, rows_in: usize, rows_out: usize) {
    STATEMENT_ROWS_IN.add(statement, rows_in as u64);
    STATEMENT_ROWS_OUT.add(statement, rows_out as u64);
}

/// Counts one API request to `endpoint`.
pub fn endpoint_request(endpoint: &'static str) {
    ENDPOINT_REQUESTS.add(endpoint, 1);
}

/// Adds the rows (or index entries) one API request read.
pub fn add_rows_scanned(n: u64) {
    ROWS_SCANNED.fetch_add(n, Ordering::Relaxed);
}

/// Rows and index entries read by API requests since the process started.
pub fn rows_scanned() -> u64 {
    ROWS_SCANNED.load(Ordering::Relaxed)
}

/// Records how long one commit took.
pub fn observe_commit(seconds: f64) {
    COMMIT_SECONDS.observe(seconds);
}

/// What is read when scraped: rows served per endpoint, and how far behind each Postgres
/// connection is (bytes of WAL not applied yet, age of the oldest unapplied commit).
#[derive(Default)]
pub struct Scrape {
    pub endpoint_rows: Vec<(&'static str, u64)>,
    pub connection_lag: Vec<(String, u64, f64)>,
}

/// Every metric in the Prometheus text exposition format.
pub fn render(scrape: &Scrape) -> String {
    let mut out = String::new();
    let counters: [(&str, &str, &str, &Labelled); 7] = [
        (
            "dozer_source_rows_total",
            "Rows (changes) applied per source.",
            "source",
            &SOURCE_ROWS,
        ),
        (
            "dozer_source_files_total",
            "Files each file source has committed.",
            "source",
            &FILES_INGESTED,
        ),
        (
            "dozer_statement_rows_in_total",
            "Changes into each statement.",
            "statement",
            &STATEMENT_ROWS_IN,
        ),
        (
            "dozer_statement_rows_out_total",
            "Changes out of each statement (net per key and batch).",
            "statement",
            &STATEMENT_ROWS_OUT,
        ),
        (
            "dozer_endpoint_requests_total",
            "REST and gRPC requests per endpoint.",
            "endpoint",
            &ENDPOINT_REQUESTS,
        ),
        (
            "dozer_late_changes_total",
            "Changes dropped because their rows were older than the statement's TTL allows.",
            "statement",
            &LATE_CHANGES,
        ),
        (
            "dozer_api_rows_scanned_total",
            "Rows and secondary index entries read to answer API queries and counts.",
            "",
            &Labelled::new(),
        ),
    ];
    for (name, help, label, values) in counters {
        header(&mut out, name, help, "counter");
        if label.is_empty() {
            let _ = writeln!(out, "{name} {}", rows_scanned());
            continue;
        }
        for (value_label, value) in values.get() {
            sample(&mut out, name, label, value_label, value as f64);
        }
    }
    let pending = files_pending();
    header(&mut out, "dozer_source_lag_bytes", "How far each source is behind: bytes of files found and not committed, or of Postgres WAL received and not applied.", "gauge");
    for (source, (bytes, _)) in &pending {
        sample(
            &mut out,
            "dozer_source_lag_bytes",
            "source",
            source,
            *bytes as f64,
        );
    }
    for (connection, bytes, _) in &scrape.connection_lag {
        sample(
            &mut out,
            "dozer_source_lag_bytes",
            "source",
            connection,
            *bytes as f64,
        );
    }
    header(&mut out, "dozer_source_lag_seconds", "How far each source is behind in time: the age of the oldest file or Postgres commit not applied yet.", "gauge");
    for (source, (_, seconds)) in &pending {
        sample(
            &mut out,
            "dozer_source_lag_seconds",
            "source",
            source,
            *seconds,
        );
    }
    for (connection, _, seconds) in &scrape.connection_lag {
        sample(
            &mut out,
            "dozer_source_lag_seconds",
            "source",
            connection,
            *seconds,
        );
    }
    header(
        &mut out,
        "dozer_endpoint_rows",
        "Rows each endpoint serves.",
        "gauge",
    );
    for (endpoint, rows) in &scrape.endpoint_rows {
        sample(
            &mut out,
            "dozer_endpoint_rows",
            "endpoint",
            endpoint,
            *rows as f64,
        );
    }
    header(
        &mut out,
        "dozer_commit_seconds",
        "Time from the first batch of a commit of source transactions to the commit.",
        "histogram",
    );
    COMMIT_SECONDS.render("dozer_commit_seconds", &mut out);
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, label: &str, value_label: &str, value: f64) {
    let _ = writeln!(
        out,
        "{name}{{{label}=\"{}\"}} {value}",
        escape_label(value_label)
    );
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_labelled_families() {
        set_late_changes("metrics_test_stmt", 3);
        statement_batch("metrics_test_stmt", 10, 2);
        add_rows_scanned(5);
        observe_commit(0.002);
        let text = render(&Scrape {
            endpoint_rows: vec![("metrics_test_ep", 7)],
            connection_lag: vec![("pg".into(), 100, 0.5)],
        });
        assert!(text.contains("# TYPE dozer_late_changes_total counter\n"));
        assert!(text.contains("dozer_late_changes_total{statement=\"metrics_test_stmt\"} 3\n"));
        assert!(
            text.contains("dozer_statement_rows_out_total{statement=\"metrics_test_stmt\"} 2\n")
        );
        assert!(text.contains("dozer_endpoint_rows{endpoint=\"metrics_test_ep\"} 7\n"));
        assert!(text.contains("dozer_source_lag_bytes{source=\"pg\"} 100\n"));
        assert!(text.contains("# TYPE dozer_commit_seconds histogram\n"));
        assert!(rows_scanned() >= 5);
        assert_eq!(escape_label("a\"b\\"), "a\\\"b\\\\");
    }
}
