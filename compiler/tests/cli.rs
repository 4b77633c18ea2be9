//! The `dozerc` binary: exit codes, what `check`, `build` and `clean` print, and what they
//! write. Every command runs in the config's temp dir with `DOZER_TARGET_DIR` set to a temp path.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

/// A partly declared schema: `Quantity` is declared, the other columns are inferred from the
/// CSV file.
const CONFIG: &str = "app_name: cli_app
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
              Quantity: Int
sources:
  - name: sales
    table_name: sales
    connection: files
sql: |
  SELECT Country, SUM(Quantity) AS units
  INTO by_country
  FROM sales
  GROUP BY Country;
endpoints:
  - name: by_country
    path: /by_country
    table_name: by_country
";

const CSV: &str =
    "InvoiceNo,Quantity,UnitPrice,Country\n536365,6,2.55,United Kingdom\n536366,3,3.39,France\n";

/// The files `dozerc build` writes, relative to the output folder.
const CRATE_FILES: [&str; 8] = [
    "Cargo.toml",
    "Cargo.lock",
    "README.md",
    ".cargo/config.toml",
    "src/main.rs",
    "src/records.rs",
    "src/pipeline.rs",
    "src/endpoints.rs",
];

/// A temp dir holding `dozer-config.yaml` and `data/sales/sales-0001.csv`.
fn app(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data/sales")).expect("data folder");
    std::fs::write(dir.path().join("data/sales/sales-0001.csv"), CSV).expect("csv");
    std::fs::write(dir.path().join("dozer-config.yaml"), config).expect("config");
    dir
}

/// Runs `dozerc args...` in `dir`.
fn dozerc(dir: &Path, args: &[&str]) -> Output {
    dozerc_with(dir, args, None)
}

/// [`dozerc`] with `DOZER_JWT_SECRET` set to `jwt_secret` (unset when `None`).
fn dozerc_with(dir: &Path, args: &[&str], jwt_secret: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dozerc"));
    command
        .args(args)
        .current_dir(dir)
        .env("DOZER_TARGET_DIR", dir.join("shared-target"))
        .env_remove("DOZER_RUNTIME_PATH")
        .env_remove("RUST_BACKTRACE")
        .env_remove("DOZER_JWT_SECRET");
    if let Some(secret) = jwt_secret {
        command.env("DOZER_JWT_SECRET", secret);
    }
    command.output().expect("run dozerc")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn succeeds(o: &Output) -> String {
    assert!(
        o.status.success(),
        "dozerc failed ({}):\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Asserts exit code 1 without a panic and returns stderr.
fn fails(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(o)
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "dozerc panicked:\n{err}"
    );
    err
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Sets the mtime of every crate file below `out` to a fixed time in the past, and returns it.
fn age_files(out: &Path) -> SystemTime {
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for f in CRATE_FILES {
        let file = std::fs::File::options()
            .write(true)
            .open(out.join(f))
            .expect("open crate file");
        file.set_modified(past).expect("set mtime");
    }
    past
}

#[test]
fn check_prints_declared_and_inferred_columns_and_the_tables() {
    let dir = app(CONFIG);
    let out = succeeds(&dozerc(dir.path(), &["check", "-c", "dozer-config.yaml"]));
    let location = dir.path().join("data").join("sales");
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        [
            format!("source `sales` ({}):", location.display()).as_str(),
            "  InvoiceNo                Int        inferred",
            "  Quantity                 Int        declared",
            "  UnitPrice                Decimal    inferred",
            "  Country                  String     inferred",
            "table `by_country` (Country String, units Int), key [Country]",
            "endpoint /by_country -> `by_country`",
            "dozer-config.yaml is valid",
        ]
    );
    // `check` writes nothing.
    assert!(!dir.path().join(".dozer").exists());
}

#[test]
fn check_reports_a_sql_error_rendered_on_stderr() {
    let dir = app(&CONFIG.replace("SUM(Quantity)", "SUM(Quantiy)"));
    let output = dozerc(dir.path(), &["check", "-c", "dozer-config.yaml"]);
    let err = fails(&output);
    assert!(
        err.contains("× unknown column `Quantiy` in `sales`"),
        "{err}"
    );
    // SQL line 1 is YAML line 19; `Quantiy` is SQL column 21.
    assert!(err.contains("╭─[dozer-config.yaml:19:23]"), "{err}");
    assert!(
        err.contains("19 │   SELECT Country, SUM(Quantiy) AS units"),
        "{err}"
    );
    assert!(err.contains("help: did you mean `Quantity`?"), "{err}");
    assert!(!stdout(&output).contains("is valid"), "{}", stdout(&output));
}

#[test]
fn check_of_a_missing_file_says_it_cannot_read_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = fails(&dozerc(dir.path(), &["check", "-c", "missing.yaml"]));
    assert!(err.contains("cannot read missing.yaml"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
}

#[test]
fn check_defaults_to_dozer_config_yaml_in_the_current_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = fails(&dozerc(dir.path(), &["check"]));
    assert!(err.contains("cannot read dozer-config.yaml"), "{err}");
    let dir = app(CONFIG);
    assert!(succeeds(&dozerc(dir.path(), &["check"])).contains("dozer-config.yaml is valid"));
}

#[test]
fn build_writes_the_crate_and_says_how_to_run_it() {
    let dir = app(CONFIG);
    let out = succeeds(&dozerc(
        dir.path(),
        &["build", "-c", "dozer-config.yaml", "-o", "out"],
    ));
    let crate_dir = dir.path().join("out");
    for f in CRATE_FILES {
        assert!(crate_dir.join(f).is_file(), "{f} missing; stdout:\n{out}");
    }
    assert!(
        out.contains("table `by_country` (Country String, units Int), key [Country]"),
        "{out}"
    );
    assert!(out.contains("wrote crate `cli-app` to out\n"), "{out}");
    assert!(
        out.contains(
            "run it:  (cd out && cargo run --release)   or:  dozerc run -c dozer-config.yaml"
        ),
        "{out}"
    );

    let read = |f: &str| std::fs::read_to_string(crate_dir.join(f)).expect("crate file");
    let runtime: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime")
        .canonicalize()
        .expect("runtime");
    assert!(read("Cargo.toml").contains(&format!(
        "dozer-runtime = {{ path = \"{}\" }}",
        runtime.display()
    )));
    assert!(read("Cargo.toml").contains("name = \"cli-app\""));
    let target = dir.path().join("shared-target");
    assert!(read(".cargo/config.toml").contains(&format!("target-dir = \"{}\"", target.display())));
    // The CSV folder and the home dir are absolute paths below the config's folder.
    // (Inside `vec![...]` prettyplease leaves `location : "..."`; accept either spacing.)
    let location = format!("\"{}\"", dir.path().join("data/sales").display());
    let pipeline = read("src/pipeline.rs").replace("location : ", "location: ");
    assert!(
        pipeline.contains(&format!("location: {location}")),
        "{pipeline}"
    );
    assert!(read("src/main.rs").contains(&format!(
        "home_dir: \"{}\"",
        dir.path().join(".dozer").display()
    )));
    assert!(read("src/records.rs").contains("pub struct ByCountryRow"));
}

#[test]
fn build_defaults_to_the_home_dir_build_folder() {
    let dir = app(CONFIG);
    let out = succeeds(&dozerc(dir.path(), &["build"]));
    let crate_dir = dir.path().join(".dozer/build/cli_app");
    for f in CRATE_FILES {
        assert!(crate_dir.join(f).is_file(), "{f} missing; stdout:\n{out}");
    }
    assert!(
        out.contains(&format!("wrote crate `cli-app` to {}", crate_dir.display())),
        "{out}"
    );
}

#[test]
fn build_leaves_unchanged_files_untouched() {
    let dir = app(CONFIG);
    succeeds(&dozerc(dir.path(), &["build", "-o", "out"]));
    let crate_dir = dir.path().join("out");
    let past = age_files(&crate_dir);
    succeeds(&dozerc(dir.path(), &["build", "-o", "out"]));
    for f in CRATE_FILES {
        assert_eq!(
            mtime(&crate_dir.join(f)),
            past,
            "{f} was rewritten although unchanged"
        );
    }
}

#[test]
fn build_rewrites_only_what_the_change_affects() {
    let dir = app(CONFIG);
    succeeds(&dozerc(dir.path(), &["build", "-o", "out"]));
    let crate_dir = dir.path().join("out");
    let past = age_files(&crate_dir);
    // Cargo owns the lock file once it exists.
    std::fs::write(crate_dir.join("Cargo.lock"), "# resolved by cargo\n").expect("write lock");
    let lock_time = mtime(&crate_dir.join("Cargo.lock"));
    std::fs::write(
        dir.path().join("dozer-config.yaml"),
        CONFIG.replace("AS units", "AS total_units"),
    )
    .expect("config");
    succeeds(&dozerc(dir.path(), &["build", "-o", "out"]));
    // main.rs holds the fingerprint of the generated code.
    for changed in ["src/records.rs", "src/pipeline.rs", "src/main.rs"] {
        assert_ne!(
            mtime(&crate_dir.join(changed)),
            past,
            "{changed} should be rewritten"
        );
    }
    let records = std::fs::read_to_string(crate_dir.join("src/records.rs")).expect("records");
    assert!(
        records.contains("pub total_units: Option<i64>"),
        "{records}"
    );
    for same in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/endpoints.rs",
        "README.md",
    ] {
        assert_eq!(
            mtime(&crate_dir.join(same)),
            past,
            "{same} did not change and should be untouched"
        );
    }
    assert_eq!(mtime(&crate_dir.join("Cargo.lock")), lock_time);
    assert_eq!(
        std::fs::read_to_string(crate_dir.join("Cargo.lock")).expect("lock"),
        "# resolved by cargo\n"
    );
}

#[test]
fn build_with_an_error_writes_nothing() {
    let dir = app(&CONFIG.replace("INTO by_country", ""));
    let err = fails(&dozerc(dir.path(), &["build", "-o", "out"]));
    assert!(err.contains("this SELECT has no INTO"), "{err}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn clean_removes_the_build_and_cache_folders() {
    let dir = app(CONFIG);
    succeeds(&dozerc(dir.path(), &["build"]));
    let home = dir.path().join(".dozer");
    std::fs::create_dir_all(home.join("cache/cli_app")).expect("cache dir");
    std::fs::write(home.join("cache/cli_app/data.redb"), "x").expect("cache file");
    std::fs::write(home.join("keep.txt"), "x").expect("other file");
    let out = succeeds(&dozerc(dir.path(), &["clean"]));
    assert!(!home.join("build").exists() && !home.join("cache").exists());
    assert!(
        home.join("keep.txt").exists(),
        "clean removes only build and cache"
    );
    assert!(
        out.contains(&format!("removed {}", home.join("build").display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("removed {}", home.join("cache").display())),
        "{out}"
    );
    // Nothing left to remove: still a success, and silent.
    assert_eq!(succeeds(&dozerc(dir.path(), &["clean"])), "");
}

#[test]
fn clean_honours_home_dir() {
    let dir = app(&format!("{CONFIG}home_dir: state\n"));
    succeeds(&dozerc(dir.path(), &["build"]));
    assert!(dir.path().join("state/build/cli_app/Cargo.toml").is_file());
    succeeds(&dozerc(dir.path(), &["clean"]));
    assert!(!dir.path().join("state/build").exists());
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = dozerc(dir.path(), &["compile"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unrecognized subcommand 'compile'"), "{err}");
}

const SECRET: &str = "config secret: 0123456789abcdef0123";

fn secured_app() -> tempfile::TempDir {
    app(&format!(
        "{CONFIG}api:\n  api_security: !Jwt \"{SECRET}\"\n"
    ))
}

/// The claims of `token` if it verifies (HS256) with `secret`, as JSON.
fn verified_claims(token: &str, secret: &str) -> Result<serde_json::Value, String> {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = 0;
    jsonwebtoken::decode::<serde_json::Value>(
        token.trim(),
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|e| e.to_string())
}

fn lifetime(claims: &serde_json::Value) -> u64 {
    claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat")
}

#[test]
fn token_grants_every_endpoint_by_default_signed_with_the_config_secret() {
    let dir = secured_app();
    let o = dozerc(dir.path(), &["token"]);
    let token = succeeds(&o);
    assert_eq!(
        token.lines().count(),
        1,
        "only the token on stdout: {token}"
    );
    let claims = verified_claims(&token, SECRET).expect("verifies with the config's secret");
    assert_eq!(claims["access"], serde_json::json!("All"));
    assert_eq!(lifetime(&claims), 86_400, "default --ttl 24h");
    assert!(verified_claims(&token, "another secret of the right length!").is_err());
    let err = stderr(&o);
    assert!(err.contains("token for every endpoint, signed with the secret of `api.api_security` in dozer-config.yaml, expires"), "{err}");
    assert!(!err.contains(SECRET) && !token.contains(SECRET));
}

#[test]
fn token_for_endpoints_with_filters() {
    let dir = secured_app();
    let token = succeeds(&dozerc(
        dir.path(),
        &[
            "token",
            "--endpoint",
            "by_country",
            "--filter",
            r#"{"Country": "France"}"#,
            "--ttl",
            "2h",
        ],
    ));
    let claims = verified_claims(&token, SECRET).expect("verifies");
    assert_eq!(
        claims["access"],
        serde_json::json!({"Custom": {"by_country": {"filter": {"Country": "France"}}}})
    );
    assert_eq!(lifetime(&claims), 7200);
    let token = succeeds(&dozerc(dir.path(), &["token", "--endpoint", "by_country"]));
    let claims = verified_claims(&token, SECRET).expect("verifies");
    assert_eq!(
        claims["access"],
        serde_json::json!({"Custom": {"by_country": {}}})
    );
}

#[test]
fn token_prefers_the_environment_secret() {
    let dir = secured_app();
    let env_secret = "environment secret, 0123456789abcdef";
    let o = dozerc_with(dir.path(), &["token"], Some(env_secret));
    let token = succeeds(&o);
    assert!(verified_claims(&token, env_secret).is_ok());
    assert!(verified_claims(&token, SECRET).is_err());
    assert!(stderr(&o).contains("signed with the secret of DOZER_JWT_SECRET"));
    // Without `api_security` the variable alone is enough.
    let plain = app(CONFIG);
    let token = succeeds(&dozerc_with(plain.path(), &["token"], Some(env_secret)));
    assert!(verified_claims(&token, env_secret).is_ok());
}

/// Each bad input: a clear message and a non-zero exit, never a token.
#[test]
fn token_errors_are_clear() {
    let dir = secured_app();
    let cases: [(&[&str], Option<&str>, &str); 7] = [
        (
            &["token", "--endpoint", "by_county"],
            None,
            "error: --endpoint `by_county`: no such endpoint in dozer-config.yaml (did you mean `by_country`?); endpoints: by_country",
        ),
        (
            &["token", "--endpoint", "by_country", "--filter", "{Country: 1}"],
            None,
            "error: --filter of `by_country` is not JSON: ",
        ),
        (
            &["token", "--endpoint", "by_country", "--filter", "[1, 2]"],
            None,
            "must be a JSON object such as",
        ),
        (
            &["token", "--endpoint", "by_country", "--endpoint", "by_country"],
            None,
            "--endpoint `by_country` is given twice",
        ),
        (&["token", "--ttl", "soon"], None, "error: --ttl `soon`: expected a number and a unit"),
        (&["token"], Some("short"), "error: DOZER_JWT_SECRET: the secret is 5 bytes long; HS256 needs at least 32"),
        (&["token"], Some(""), "error: DOZER_JWT_SECRET: the secret is empty"),
    ];
    for (args, env, message) in cases {
        let o = dozerc_with(dir.path(), args, env);
        let err = fails(&o);
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    // Not secured, no variable: nothing to sign with.
    let plain = app(CONFIG);
    let err = fails(&dozerc(plain.path(), &["token"]));
    assert!(
        err.contains("has no `api.api_security` and DOZER_JWT_SECRET is not set"),
        "{err}"
    );
    // A --filter must follow its --endpoint: a usage error (exit 2).
    let o = dozerc(
        dir.path(),
        &["token", "--filter", "{}", "--endpoint", "by_country"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("comes before any --endpoint"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn build_compiles_the_secret_into_main() {
    let dir = secured_app();
    succeeds(&dozerc(dir.path(), &["build", "-o", "out"]));
    let main = std::fs::read_to_string(dir.path().join("out/src/main.rs")).expect("main.rs");
    assert!(
        main.contains(&format!("jwt_secret: Some(\"{SECRET}\")")),
        "{main}"
    );
    let plain = app(CONFIG);
    succeeds(&dozerc(plain.path(), &["build", "-o", "out"]));
    let main = std::fs::read_to_string(plain.path().join("out/src/main.rs")).expect("main.rs");
    assert!(main.contains("jwt_secret: None"), "{main}");
}
