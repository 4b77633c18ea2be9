//! Helpers shared by the SQL test files: a one-table config whose columns come from `schema:`.

#![allow(dead_code)]

use dozerc::diagnostics::{render, CompileError, SourceFile};
use dozerc::Compiled;

/// One CSV table `sales` whose columns come from `schema:` (its folder is empty). The config
/// has 24 lines; the SQL starts on line 25, indented by two spaces, so SQL line `L` column `C`
/// is `dozer-config.yaml:(24 + L):(2 + C)`.
pub const HEAD: &str = "app_name: shop
connections:
  - name: files
    config: !LocalStorage
      details:
        path: data
      tables:
        - !Table
          name: sales
          config: !CSV
            path: sales
            schema:
              InvoiceNo: String
              StockCode: String
              Quantity: Int
              InvoiceDate: Timestamp
              UnitPrice: Decimal
              CustomerID: Int
              Country: String
sources:
  - name: sales
    table_name: sales
    connection: files
sql: |
";

/// The config text for `sql` (indented into the block scalar) followed by `endpoints`.
pub fn yaml(sql: &str, endpoints: &str) -> String {
    let body: String = sql.lines().map(|l| format!("  {l}\n")).collect();
    format!("{HEAD}{body}{endpoints}")
}

/// Compiles the config in a temp dir holding the empty `data/sales` folder.
pub fn compile(sql: &str, endpoints: &str) -> Result<Compiled, CompileError> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data/sales")).expect("sales folder");
    let file = SourceFile::new(
        dir.path().join("dozer-config.yaml"),
        "dozer-config.yaml",
        yaml(sql, endpoints),
    );
    let cfg = dozerc::config::parse(file, dir.path().to_path_buf())
        .unwrap_or_else(|e| panic!("the YAML itself should be valid:\n{}", render(&e)));
    dozerc::compile_loaded(cfg)
}

/// Compiles, expecting success.
pub fn compiled(sql: &str) -> Compiled {
    compile(sql, "").unwrap_or_else(|e| panic!("expected {sql:?} to compile, got:\n{}", render(&e)))
}

/// The workspace root (the parent of the compiler crate).
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace dir")
}

/// Crate options with the real runtime and the shared `<workspace>/target/pipelines`, which
/// already holds the runtime's dependencies.
pub fn real_options() -> dozerc::codegen::CrateOptions {
    let workspace = workspace();
    dozerc::codegen::CrateOptions {
        config_name: "dozer-config.yaml".to_string(),
        runtime_path: workspace.join("runtime"),
        target_dir: workspace.join("target/pipelines"),
        home_dir: std::path::PathBuf::from("/home"),
        rest_host: "0.0.0.0".to_string(),
        rest_port: 8080,
        grpc_host: "0.0.0.0".into(),
        grpc_port: 50051,
        jwt_secret: None,
    }
}

/// Writes `generated` to a temp dir and runs `cargo check --quiet` in it with the shared
/// target dir. Returns whether it succeeded, and cargo's stderr.
pub fn cargo_check(generated: &dozerc::codegen::GeneratedCrate) -> (bool, String) {
    let out = tempfile::tempdir().expect("temp dir");
    dozerc::codegen::write_crate(generated, out.path())
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = std::process::Command::new(cargo)
        .args(["check", "--quiet"])
        .current_dir(out.path())
        .env("CARGO_TARGET_DIR", workspace().join("target/pipelines"))
        // Each test crate is checked once: incremental state would only cost time and disk.
        .env("CARGO_INCREMENTAL", "0")
        .output()
        .expect("run cargo check");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Asserts that `cargo check` accepts the crate without warnings in its own sources (the
/// runtime's warnings, if any, are not the generated code's).
pub fn assert_type_checks(generated: &dozerc::codegen::GeneratedCrate) {
    let (ok, stderr) = cargo_check(generated);
    assert!(
        ok,
        "cargo check failed on the generated crate `{}`:\n{stderr}",
        generated.crate_name
    );
    assert!(
        !stderr.contains("--> src/"),
        "the generated crate `{}` has warnings:\n{stderr}",
        generated.crate_name
    );
}
