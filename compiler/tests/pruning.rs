//! Source columns nobody reads are left out of the generated source record (never decoded).

mod common;

use common::compiled;

fn used(sql: &str) -> Vec<String> {
    let c = compiled(sql);
    let source = &c.pipeline.sources[0];
    c.pipeline
        .used_source_columns(0)
        .into_iter()
        .map(|i| source.columns[i].name.clone())
        .collect()
}

#[test]
fn only_columns_the_statements_read_are_decoded() {
    assert_eq!(
        used("SELECT Country, SUM(Quantity * UnitPrice) AS total INTO t FROM sales WHERE CustomerID IS NOT NULL GROUP BY Country;"),
        ["Quantity", "UnitPrice", "CustomerID", "Country"]
    );
    assert_eq!(used("SELECT InvoiceNo INTO t FROM sales;"), ["InvoiceNo"]);
    // COUNT(*) alone still reads rows through one column.
    assert_eq!(
        used("SELECT COUNT(*) AS n INTO t FROM sales;"),
        ["InvoiceNo"]
    );
}

#[test]
fn statements_over_results_do_not_widen_the_source() {
    assert_eq!(
        used("SELECT Country, COUNT(*) AS n INTO a FROM sales GROUP BY Country;\nSELECT n INTO b FROM a;"),
        ["Country"]
    );
}
