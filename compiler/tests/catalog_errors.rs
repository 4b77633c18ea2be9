//! Source schema errors found at build time (the catalog): each names the table, points at the
//! config and says what to do.

use dozerc::diagnostics::{render, SourceFile};
use std::path::Path;

fn config(table_config: &str, source_extra: &str) -> String {
    format!(
        "app_name: shop
connections:
  - name: files
    config: !LocalStorage
      details:
        path: data
      tables:
        - !Table
          name: sales
          config: !CSV
{table_config}
sources:
  - name: sales
    table_name: sales
    connection: files
{source_extra}
sql: |
  SELECT Country, COUNT(*) AS n INTO by_country FROM sales GROUP BY Country;
"
    )
}

fn compile(dir: &Path, text: &str) -> Result<dozerc::Compiled, String> {
    let file = SourceFile::new(
        dir.join("dozer-config.yaml"),
        "dozer-config.yaml",
        text.to_string(),
    );
    let loaded = dozerc::config::parse(file, dir.to_path_buf()).map_err(|e| render(&e))?;
    dozerc::compile_loaded(loaded).map_err(|e| render(&e))
}

#[test]
fn a_missing_data_folder_without_schema_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = compile(dir.path(), &config("            path: sales", ""))
        .map(|_| ())
        .unwrap_err();
    assert!(
        out.contains("does not exist, so the columns of `sales` are unknown"),
        "{out}"
    );
    assert!(out.contains("dozer-config.yaml:11:19"), "{out}");
    assert!(
        out.contains("add at least one file, or declare the columns under `schema:`"),
        "{out}"
    );
}

#[test]
fn an_empty_folder_without_schema_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/sales")).unwrap();
    let out = compile(dir.path(), &config("            path: sales", ""))
        .map(|_| ())
        .unwrap_err();
    assert!(
        out.contains("has no files, so the columns of `sales` are unknown"),
        "{out}"
    );
}

#[test]
fn a_declared_schema_needs_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let compiled = compile(dir.path(), &config("            path: sales\n            schema:\n              Country: String\n              Quantity: Int", "")).unwrap();
    let columns: Vec<_> = compiled.sources[0]
        .table
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty.name()))
        .collect();
    assert_eq!(columns, [("Country", "String"), ("Quantity", "Int")]);
}

#[test]
fn types_are_inferred_from_files_and_schema_overrides_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/sales")).unwrap();
    std::fs::write(
        dir.path().join("data/sales/a.csv"),
        "Country,Quantity,Price,At\nUK,1,2.5,2011-01-01T10:00:00\nFR,,3,\n",
    )
    .unwrap();
    let compiled = compile(
        dir.path(),
        &config(
            "            path: sales\n            schema:\n              Quantity: Decimal",
            "",
        ),
    )
    .unwrap();
    let source = &compiled.sources[0];
    let columns: Vec<_> = source
        .table
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty.name()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Country", "String"),
            ("Quantity", "Decimal"),
            ("Price", "Decimal"),
            ("At", "Timestamp")
        ]
    );
    use dozerc::catalog::TypeOrigin::{Declared, Inferred};
    assert_eq!(source.origins, [Inferred, Declared, Inferred, Inferred]);
}

#[test]
fn a_schema_column_missing_from_the_header_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/sales")).unwrap();
    std::fs::write(
        dir.path().join("data/sales/a.csv"),
        "Country,Quantity\nUK,1\n",
    )
    .unwrap();
    let out = compile(
        dir.path(),
        &config(
            "            path: sales\n            schema:\n              Qty: Int",
            "",
        ),
    )
    .map(|_| ())
    .unwrap_err();
    assert!(out.contains("`schema` names column `Qty`"), "{out}");
    assert!(out.contains("the header has: Country, Quantity"), "{out}");
}

#[test]
fn selecting_an_unknown_source_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = compile(
        dir.path(),
        &config(
            "            path: sales\n            schema:\n              Country: String",
            "    columns: [Country, Nope]",
        ),
    )
    .map(|_| ())
    .unwrap_err();
    assert!(out.contains("table `sales` has no column `Nope`"), "{out}");
    assert!(out.contains("its columns are: Country"), "{out}");
}
