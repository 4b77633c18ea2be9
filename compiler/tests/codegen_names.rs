//! Code generation with awkward SQL names: Rust keywords, names that differ only in case, table
//! names equal to runtime types or to variables of the generated code. The generated crate must
//! never panic the compiler, and must type-check without warnings.
//!
//! The `cargo check` tests share `<workspace>/target/pipelines` with the other tests.

mod common;

use common::{assert_type_checks, compile, real_options};
use dozerc::codegen::{generate, GeneratedCrate};
use dozerc::diagnostics::render;

/// Generates the crate of `sql` (over the `sales` table of `common`) with the real runtime.
fn generated(sql: &str) -> GeneratedCrate {
    let compiled = compile(sql, "").unwrap_or_else(|e| panic!("{sql}:\n{}", render(&e)));
    generate(&compiled.pipeline, &real_options())
        .unwrap_or_else(|e| panic!("{sql}:\n{}", render(&e)))
}

/// The text of one generated file.
fn file<'g>(generated: &'g GeneratedCrate, path: &str) -> &'g str {
    let found = generated
        .files
        .iter()
        .find(|(p, _)| p.to_str() == Some(path));
    found
        .map(|(_, text)| text.as_str())
        .unwrap_or_else(|| panic!("{path} not generated"))
}

/// Serves each table of `tables` with an endpoint `e<i>` at `/e<i>`.
fn with_endpoints(sql: &str, tables: &[&str]) -> GeneratedCrate {
    let endpoints: String = tables
        .iter()
        .enumerate()
        .map(|(i, t)| format!("  - name: e{i}\n    path: /e{i}\n    table_name: {t}\n"))
        .collect();
    let compiled = compile(sql, &format!("endpoints:\n{endpoints}"))
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    generate(&compiled.pipeline, &real_options()).unwrap_or_else(|e| panic!("{}", render(&e)))
}

#[test]
fn keyword_column_names_become_raw_identifiers() {
    let g = generated(
        "SELECT Country AS type, Quantity AS \"fn\", CustomerID AS match INTO t FROM sales;",
    );
    let records = file(&g, "src/records.rs");
    for (sql, rust) in [("type", "r#type"), ("fn", "r#fn"), ("match", "r#match")] {
        assert!(
            records.contains(&format!(
                "#[serde(rename = \"{sql}\")]\n    pub {rust}: Option<"
            )),
            "{sql}:\n{records}"
        );
    }
    assert!(file(&g, "src/pipeline.rs").contains("r#type: row.country.clone(),"));
}

#[test]
fn names_differing_only_in_style_get_distinct_rust_names() {
    let g = generated("SELECT CustomerID, CustomerID AS customer_id, Country AS \"Customer Id\" INTO t FROM sales;");
    let records = file(&g, "src/records.rs");
    for (sql, rust) in [
        ("CustomerID", "customer_id"),
        ("customer_id", "customer_id_2"),
        ("Customer Id", "customer_id_3"),
    ] {
        assert!(
            records.contains(&format!(
                "#[serde(rename = \"{sql}\")]\n    pub {rust}: Option<"
            )),
            "{sql}:\n{records}"
        );
    }
}

#[test]
fn awkward_but_valid_names_type_check() {
    let sql = "SELECT Country AS type, Quantity AS \"fn\", CustomerID, CustomerID AS customer_id, \
               Country AS \"Customer Id\", InvoiceNo AS \"1st\" INTO \"order\" FROM sales;\n\
               SELECT type, COUNT(*) AS n INTO \"2nd table\" FROM \"order\" GROUP BY type;";
    let g = with_endpoints(sql, &["order", "2nd table"]);
    assert!(file(&g, "src/records.rs").contains("pub _1st: Option<String>"));
    assert_type_checks(&g);
}

/// `self`, `Self`, `super` and `crate` cannot be raw identifiers: proc-macro2 panics.
#[test]
fn path_keywords_as_names_do_not_panic() {
    for sql in [
        "SELECT Country AS self INTO t FROM sales;",
        "SELECT Country AS crate INTO t FROM sales;",
        "SELECT Country AS super INTO t FROM sales;",
        "SELECT Country INTO self FROM sales;",
        "SELECT Country AS \"Self\" INTO t FROM sales;",
    ] {
        let compiled = compile(sql, "").unwrap_or_else(|e| panic!("{}", render(&e)));
        let result =
            std::panic::catch_unwind(|| generate(&compiled.pipeline, &real_options()).map(|_| ()));
        assert!(
            matches!(result, Ok(Ok(()))),
            "generating {sql:?} panicked or failed"
        );
    }
}

/// A statement `INTO count` makes an operator struct `Count`, which shadows the runtime's
/// `Count` accumulator (and `option` → `Option`, `operator` → `Operator`).
#[test]
fn tables_named_like_runtime_types_type_check() {
    let sql = "SELECT Country, COUNT(*) AS n INTO count FROM sales GROUP BY Country;\n\
               SELECT Country INTO option FROM sales;\n\
               SELECT Country INTO operator FROM sales;\n\
               SELECT Country, SUM(Quantity) AS s INTO sum FROM sales GROUP BY Country;";
    assert_type_checks(&with_endpoints(
        sql,
        &["count", "option", "operator", "sum"],
    ));
}

/// `apply_<source>` binds each statement's output to a local named after the table, so a table
/// `txn` shadows the transaction parameter.
#[test]
fn table_named_txn_type_checks() {
    let sql = "SELECT Country, COUNT(*) AS n INTO txn FROM sales GROUP BY Country;";
    assert_type_checks(&with_endpoints(sql, &["txn"]));
}

/// `ByCountry` and `by_country` are distinct tables; their Rust types must be distinct and
/// UpperCamelCase (`ByCountryRow_2` would warn).
#[test]
fn tables_differing_only_in_style_type_check_without_warnings() {
    let sql = "SELECT Country, COUNT(*) AS n INTO by_country FROM sales GROUP BY Country;\n\
               SELECT Country, COUNT(*) AS n INTO \"ByCountry\" FROM sales GROUP BY Country;";
    assert_type_checks(&with_endpoints(sql, &["by_country", "ByCountry"]));
}

/// Endpoints that all serve record-id keyed tables (projections of sources) use nothing from
/// `pipeline.rs`.
#[test]
fn projection_endpoints_type_check_without_warnings() {
    assert_type_checks(&with_endpoints(
        "SELECT Country, Quantity INTO t FROM sales WHERE Quantity > 0;",
        &["t"],
    ));
}

/// A pipeline whose results are not served (yet) still compiles without warnings.
#[test]
fn pipeline_without_endpoints_type_checks_without_warnings() {
    assert_type_checks(&generated(
        "SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country;",
    ));
}

/// Endpoint names only have to differ as written; their Rust items must differ too.
#[test]
fn endpoints_differing_only_in_style_type_check() {
    let sql = "SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country;";
    let endpoints = "endpoints:\n  - name: by_country\n    path: /a\n    table_name: t\n  - name: ByCountry\n    path: /b\n    table_name: t\n";
    let compiled = compile(sql, endpoints).unwrap_or_else(|e| panic!("{}", render(&e)));
    let g =
        generate(&compiled.pipeline, &real_options()).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_type_checks(&g);
}

/// Endpoint names that shadow proto packages (`dozer`, `google`), that prost renames
/// (`orders_by_x_y`), that start with a digit, or that clash with the fixed messages of an
/// endpoint's package: the protos compile and the services type-check.
#[test]
fn awkward_endpoint_names_give_valid_protos_and_services() {
    let sql = "SELECT Country, COUNT(*) AS n, MAX(InvoiceDate) AS last_sale INTO t FROM sales GROUP BY Country;";
    let names = [
        "dozer",
        "google",
        "orders_by_x_y",
        "2024_sales",
        "event",
        "query_request",
    ];
    let endpoints: String = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("  - name: {name}\n    path: /p{i}\n    table_name: t\n"))
        .collect();
    let compiled = compile(sql, &format!("endpoints:\n{endpoints}"))
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    let g =
        generate(&compiled.pipeline, &real_options()).unwrap_or_else(|e| panic!("{}", render(&e)));
    let proto = file(&g, "proto/dozer/generated/orders_by_x_y.proto");
    assert!(proto.contains("service OrdersByXyService {"), "{proto}");
    assert!(file(&g, "proto/dozer/generated/e_2024_sales.proto").contains("message E2024Sales {"));
    assert!(file(&g, "proto/dozer/generated/event.proto").contains("message EventRecord {"));
    assert_type_checks(&g);
}
