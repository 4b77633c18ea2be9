//! Process-wide counters, served as Prometheus text at `GET /metrics` on the REST port.
//!
//! Operators update them when they commit a change to a counted quantity; counters that are
//! checkpointed (late changes) are restored with the operator, so they count since the
//! pipeline's first start, not the process's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Late changes dropped per TTL'd statement (GUIDE §2).
static LATE_CHANGES: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// Sets the number of late changes `statement` has dropped.
pub fn set_late_changes(statement: &'static str, total: u64) {
    if let Ok(mut counts) = LATE_CHANGES.lock() {
        counts.insert(statement, total);
    }
}

/// Late changes dropped so far, per TTL'd statement.
pub fn late_changes() -> BTreeMap<&'static str, u64> {
    LATE_CHANGES.lock().map(|c| c.clone()).unwrap_or_default()
}

/// Files committed so far, per file source.
static FILES_INGESTED: Mutex<BTreeMap<&'static str, usize>> = Mutex::new(BTreeMap::new());

/// Sets the number of files `source` has committed.
pub fn set_files_ingested(source: &'static str, files: usize) {
    if let Ok(mut counts) = FILES_INGESTED.lock() {
        counts.insert(source, files);
    }
}

/// Files committed so far, per file source.
pub fn files_ingested() -> BTreeMap<&'static str, usize> {
    FILES_INGESTED.lock().map(|c| c.clone()).unwrap_or_default()
}

/// Rows and secondary index entries read by API queries and counts.
static ROWS_SCANNED: AtomicU64 = AtomicU64::new(0);

/// Adds the rows (or index entries) one API request read.
pub fn add_rows_scanned(n: u64) {
    ROWS_SCANNED.fetch_add(n, Ordering::Relaxed);
}

/// Rows and index entries read by API requests since the process started.
pub fn rows_scanned() -> u64 {
    ROWS_SCANNED.load(Ordering::Relaxed)
}

/// Every counter in the Prometheus text exposition format.
pub fn render() -> String {
    let mut text = String::new();
    text.push_str("# HELP dozer_api_rows_scanned_total Rows and secondary index entries read to answer API queries and counts.\n");
    text.push_str("# TYPE dozer_api_rows_scanned_total counter\n");
    let _ = writeln!(text, "dozer_api_rows_scanned_total {}", rows_scanned());
    text.push_str("# HELP dozer_source_files_total Files each file source has committed.\n");
    text.push_str("# TYPE dozer_source_files_total counter\n");
    for (source, count) in files_ingested() {
        let _ = writeln!(
            text,
            "dozer_source_files_total{{source=\"{}\"}} {count}",
            escape_label(source)
        );
    }
    text.push_str("# HELP dozer_late_changes_total Changes dropped because their rows were older than the statement's TTL allows.\n");
    text.push_str("# TYPE dozer_late_changes_total counter\n");
    for (statement, count) in late_changes() {
        let _ = writeln!(
            text,
            "dozer_late_changes_total{{statement=\"{}\"}} {count}",
            escape_label(statement)
        );
    }
    text
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
    fn late_changes_render_as_a_labelled_counter() {
        set_late_changes("metrics_test_stmt", 3);
        let text = render();
        assert!(text.contains("# TYPE dozer_late_changes_total counter\n"));
        assert!(text.contains("dozer_late_changes_total{statement=\"metrics_test_stmt\"} 3\n"));
        add_rows_scanned(5);
        assert!(rows_scanned() >= 5);
        assert!(text.contains("# TYPE dozer_api_rows_scanned_total counter\n"));
    }
}
