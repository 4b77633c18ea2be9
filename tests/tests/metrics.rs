//! `GET /metrics` read by a Prometheus text-format parser (the `prometheus-parse` crate): every
//! family the live page and a scraper rely on is there, well formed, and agrees with what the
//! pipeline did (rows per source and statement, rows and requests per endpoint, commits, lag).

use dozer_e2e::ecommerce::{derived_sales, sample_csv, Scratch};
use dozer_e2e::http::{get_text, post_raw};
use dozer_e2e::pipeline::free_port;
use prometheus_parse::{Scrape, Value};
use std::time::Duration;

/// The value of the sample `name` whose label `label` is `value`.
fn value(scrape: &Scrape, name: &str, label: &str, wanted: &str) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && s.labels.get(label) == Some(wanted))
        .unwrap_or_else(|| panic!("no {name}{{{label}=\"{wanted}\"}}"));
    match &sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("{name}: not a single value: {other:?}"),
    }
}

fn scrape(port: u16) -> anyhow::Result<Scrape> {
    let text = get_text(port, "/metrics")?;
    Ok(Scrape::parse(text.lines().map(|l| Ok(l.to_string())))?)
}

#[test]
fn metrics_parse_and_agree_with_the_pipeline() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    scratch.add_file("sales-0001.csv", &std::fs::read(sample_csv())?)?;
    let running = scratch.start(free_port())?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;
    let second = derived_sales(&sample_csv(), 500)?;
    let second_rows = second.iter().filter(|&&b| b == b'\n').count() - 1;
    scratch.add_file("sales-0002.csv", &second)?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 2)?;
    let rows = 10_000.0 + second_rows as f64;

    let endpoints = [
        ("customer_lifetime_value", "/clv"),
        ("bestsellers", "/bestsellers"),
        ("sales_by_country", "/sales_by_country"),
        ("daily_sales", "/daily_sales"),
    ];
    let mut counts = Vec::new();
    for (name, path) in endpoints {
        let (status, count) = post_raw(running.port, &format!("{path}/count"), "{}")?;
        anyhow::ensure!(status == 200, "{path}/count: {count}");
        counts.push((name, count.as_f64().unwrap_or(-1.0)));
    }
    let scrape = scrape(running.port)?;

    assert_eq!(
        value(&scrape, "dozer_source_rows_total", "source", "sales_data"),
        rows
    );
    assert_eq!(
        value(&scrape, "dozer_source_files_total", "source", "sales_data"),
        2.0
    );
    assert_eq!(
        value(&scrape, "dozer_source_lag_bytes", "source", "sales_data"),
        0.0
    );
    for (name, _) in endpoints {
        assert_eq!(
            value(&scrape, "dozer_statement_rows_in_total", "statement", name),
            rows,
            "{name}"
        );
        assert!(
            value(&scrape, "dozer_statement_rows_out_total", "statement", name) > 0.0,
            "{name}"
        );
    }
    for (name, count) in &counts {
        assert_eq!(
            value(&scrape, "dozer_endpoint_rows", "endpoint", name),
            *count,
            "{name}"
        );
        // The one count request above.
        assert_eq!(
            value(&scrape, "dozer_endpoint_requests_total", "endpoint", name),
            1.0,
            "{name}"
        );
    }
    // The second file's rows are a day older than the first's newest: late for daily_sales's
    // TTL. The counter says what /health says.
    let health = dozer_e2e::http::get(running.port, "/health")?;
    assert_eq!(
        value(
            &scrape,
            "dozer_late_changes_total",
            "statement",
            "daily_sales"
        ),
        health["late_changes"]["daily_sales"]
            .as_f64()
            .unwrap_or(-1.0)
    );

    let histogram = scrape
        .samples
        .iter()
        .find(|s| s.metric == "dozer_commit_seconds")
        .expect("the commit histogram");
    let Value::Histogram(buckets) = &histogram.value else {
        panic!(
            "dozer_commit_seconds is not a histogram: {:?}",
            histogram.value
        );
    };
    let counts: Vec<f64> = buckets.iter().map(|b| b.count).collect();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "cumulative: {counts:?}"
    );
    assert_eq!(
        counts.last().copied(),
        Some(2.0),
        "two commits, one per file"
    );
    let documented = |name: &str| scrape.docs.contains_key(name);
    assert!(documented("dozer_source_lag_seconds") && documented("dozer_commit_seconds"));
    Ok(())
}
