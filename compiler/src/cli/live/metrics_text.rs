//! The pipeline's `/metrics` (Prometheus text) as the page's per-node row counts.

use std::collections::BTreeMap;

/// One sample: metric name, its labels, its value.
#[derive(Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of a Prometheus text exposition; comment lines and lines that do not parse are
/// skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y \"q\""` into its pairs.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

/// Rows per graph node: a source's rows applied, a statement's changes out, an endpoint's rows.
pub fn node_rows(samples: &[Sample]) -> BTreeMap<String, f64> {
    let mut rows = BTreeMap::new();
    for sample in samples {
        let (kind, label) = match sample.name.as_str() {
            "dozer_source_rows_total" => ("source", "source"),
            "dozer_statement_rows_out_total" => ("statement", "statement"),
            "dozer_endpoint_rows" => ("endpoint", "endpoint"),
            _ => continue,
        };
        if let Some(name) = sample.labels.get(label) {
            rows.insert(format!("{kind}:{name}"), sample.value);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_and_node_rows() {
        let text = "# HELP x y\n# TYPE x counter\n\
            dozer_source_rows_total{source=\"sales\"} 1000\n\
            dozer_statement_rows_out_total{statement=\"by \\\"country\\\"\"} 38\n\
            dozer_endpoint_rows{endpoint=\"clv\"} 7\n\
            dozer_api_rows_scanned_total 5\n\
            dozer_commit_seconds_bucket{le=\"+Inf\",x=\"1\"} 3\n";
        let samples = parse(text);
        assert_eq!(samples.len(), 5);
        assert_eq!(samples[3].name, "dozer_api_rows_scanned_total");
        assert_eq!(samples[4].labels.get("x").map(String::as_str), Some("1"));
        let rows = node_rows(&samples);
        assert_eq!(rows.get("source:sales"), Some(&1000.0));
        assert_eq!(rows.get("statement:by \"country\""), Some(&38.0));
        assert_eq!(rows.get("endpoint:clv"), Some(&7.0));
    }
}
