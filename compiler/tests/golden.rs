//! Golden tests of the code generator: each config in `fixtures/sql/<case>.yaml` is compiled
//! with fixed [`CrateOptions`] and every generated file (except `Cargo.lock`) is compared with
//! `golden/<case>/<file>`. The config's directory is a temp dir, written `$CONFIG_DIR` in the
//! goldens so they do not depend on the machine.
//!
//! After an intended change to the generated code, regenerate and review the diff:
//! `UPDATE_GOLDEN=1 cargo test -p dozerc --test golden`.
//!
//! `*_crate_type_checks` also run `cargo check` on the crates with the real runtime.

mod common;

use std::path::{Path, PathBuf};

use dozerc::codegen::{generate, CrateOptions, GeneratedCrate};
use dozerc::diagnostics::render;

/// The placeholder for the config's directory in golden files.
const CONFIG_DIR: &str = "$CONFIG_DIR";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fixed options of the golden files.
fn golden_options() -> CrateOptions {
    CrateOptions {
        config_name: "dozer-config.yaml".to_string(),
        runtime_path: PathBuf::from("/runtime"),
        target_dir: PathBuf::from("/target"),
        home_dir: PathBuf::from("/home"),
        rest_host: "0.0.0.0".to_string(),
        rest_port: 8080,
        grpc_host: "0.0.0.0".into(),
        grpc_port: 50051,
        jwt_secret: None,
    }
}

/// Copies `fixtures/sql/<case>.yaml` into a temp dir (with an empty `data/sales` folder) and
/// generates its crate. Returns the temp dir too: it must outlive the generated paths.
fn generate_case(case: &str, options: &CrateOptions) -> (tempfile::TempDir, GeneratedCrate) {
    let fixture = manifest_dir()
        .join("tests/fixtures/sql")
        .join(format!("{case}.yaml"));
    let yaml =
        std::fs::read_to_string(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    generate_text(case, &yaml, options)
}

/// As [`generate_case`], for the case's config with `yaml` as its text.
fn generate_text(
    case: &str,
    yaml: &str,
    options: &CrateOptions,
) -> (tempfile::TempDir, GeneratedCrate) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data/sales")).expect("sales folder");
    let config = dir.path().join("dozer-config.yaml");
    std::fs::write(&config, yaml).expect("write config");
    // A Postgres case pins its tables in a lock file, so it builds without the database.
    let lock = manifest_dir()
        .join("tests/fixtures/sql")
        .join(format!("{case}.lock"));
    if lock.exists() {
        std::fs::copy(&lock, dir.path().join("dozer-config.lock")).expect("copy lock file");
    }
    let compiled = dozerc::compile(&config).unwrap_or_else(|e| panic!("{case}:\n{}", render(&e)));
    let generated =
        generate(&compiled.pipeline, options).unwrap_or_else(|e| panic!("{case}:\n{}", render(&e)));
    (dir, generated)
}

/// Replaces the value of `fingerprint: "<hex>"` (a hash of the generated code, which embeds the
/// config dir) with `$FINGERPRINT`.
fn normalize_fingerprint(text: &str) -> String {
    const FIELD: &str = "fingerprint: \"";
    let Some(start) = text.find(FIELD).map(|i| i + FIELD.len()) else {
        return text.to_string();
    };
    let len = text[start..].find('"').expect("closing quote");
    assert!(
        text[start..start + len]
            .chars()
            .all(|c| c.is_ascii_hexdigit()),
        "{}",
        &text[start..start + len]
    );
    format!("{}$FINGERPRINT{}", &text[..start], &text[start + len..])
}

/// The generated files compared with goldens, with the config dir replaced by `$CONFIG_DIR`
/// and the code fingerprint by `$FINGERPRINT`.
fn normalized_files(case: &str) -> Vec<(PathBuf, String)> {
    let (dir, generated) = generate_case(case, &golden_options());
    let config_dir = dir.path().display().to_string();
    let lock = generated
        .files
        .iter()
        .find(|(p, _)| p == Path::new("Cargo.lock"));
    let lock = lock.map(|(_, text)| text.as_str()).unwrap_or_default();
    assert!(
        lock.contains("name = \"dozer-runtime\""),
        "Cargo.lock is the workspace lock file"
    );
    generated
        .files
        .into_iter()
        // Not ours to review: the lock file, tonic-prost-build's stubs and the runtime's protos
        // copied for clients. The endpoint protos and the services over the stubs are kept.
        .filter(|(path, _)| {
            ![
                "Cargo.lock",
                "src/proto.rs",
                "proto/dozer/types.proto",
                "proto/dozer/common.proto",
            ]
            .iter()
            .any(|skipped| path == Path::new(skipped))
        })
        .map(|(path, text)| {
            (
                path,
                normalize_fingerprint(&text.replace(&config_dir, CONFIG_DIR)),
            )
        })
        .collect()
}

/// Every file below `dir`, relative to it.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path.strip_prefix(dir).expect("below dir").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A short line diff: the first differing line with a few lines of context.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let from = first.saturating_sub(3);
    let mut out = format!("@@ first difference at line {} @@\n", first + 1);
    for line in &e[from..first] {
        out.push_str(&format!("  {line}\n"));
    }
    for line in e.iter().skip(first).take(8) {
        out.push_str(&format!("- {line}\n"));
    }
    for line in a.iter().skip(first).take(8) {
        out.push_str(&format!("+ {line}\n"));
    }
    out.push_str(&format!(
        "(golden: {} lines, generated: {} lines)\n",
        e.len(),
        a.len()
    ));
    out
}

/// Compares (or with `UPDATE_GOLDEN=1` rewrites) `golden/<case>/`.
fn check_golden(case: &str) {
    let golden_dir = manifest_dir().join("tests/golden").join(case);
    let files = normalized_files(case);
    for (path, text) in &files {
        assert!(
            !text.contains("/tmp/") && !text.contains(".tmp"),
            "{case}/{}: unnormalised temp path",
            path.display()
        );
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden_dir);
        for (path, text) in &files {
            let target = golden_dir.join(path);
            std::fs::create_dir_all(target.parent().expect("parent")).expect("create golden dir");
            std::fs::write(&target, text).expect("write golden");
        }
        eprintln!("updated {}", golden_dir.display());
        return;
    }
    let mut problems = Vec::new();
    for (path, text) in &files {
        let golden = golden_dir.join(path);
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == *text => {}
            Ok(expected) => problems.push(format!(
                "{} differs:\n{}",
                golden.display(),
                diff(&expected, text)
            )),
            Err(_) => problems.push(format!(
                "{} is missing (generated, not checked in)",
                golden.display()
            )),
        }
    }
    let generated: Vec<&PathBuf> = files.iter().map(|(p, _)| p).collect();
    for stale in files_below(&golden_dir) {
        if !generated.contains(&&stale) {
            problems.push(format!(
                "{} is no longer generated",
                golden_dir.join(stale).display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "generated code for `{case}` differs from tests/golden/{case}:\n\n{}\nIf the change is intended, run \
         `UPDATE_GOLDEN=1 cargo test -p dozerc --test golden` and review the diff.",
        problems.join("\n")
    );
}

#[test]
fn golden_aggregates() {
    check_golden("aggregates");
}

#[test]
fn golden_projection() {
    check_golden("projection");
}

#[test]
fn golden_postgres() {
    check_golden("postgres");
}

#[test]
fn golden_windows() {
    check_golden("windows");
}

#[test]
fn generated_crate_has_the_expected_files() {
    let files: Vec<String> = normalized_files("projection")
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ".cargo/config.toml",
            "Cargo.toml",
            "README.md",
            "proto/dozer/generated/big_orders.proto",
            "proto/dozer/generated/top_customers.proto",
            "src/endpoints.rs",
            "src/grpc.rs",
            "src/main.rs",
            "src/pipeline.rs",
            "src/records.rs"
        ]
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(
        normalized_files("aggregates"),
        normalized_files("aggregates")
    );
    // Without normalisation too, from one config dir (the fingerprint included).
    let (dir, first) = generate_case("projection", &golden_options());
    let config = dir.path().join("dozer-config.yaml");
    let compiled = dozerc::compile(&config).unwrap_or_else(|e| panic!("{}", render(&e)));
    let second = generate(&compiled.pipeline, &golden_options())
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(first.files, second.files);
}

#[test]
fn fingerprint_follows_the_generated_code() {
    let main_rs = |g: &GeneratedCrate| {
        g.files
            .iter()
            .find(|(p, _)| p == Path::new("src/main.rs"))
            .expect("main.rs")
            .1
            .clone()
    };
    let (_a, aggregates) = generate_case("aggregates", &golden_options());
    let (_b, projection) = generate_case("projection", &golden_options());
    let (a, b) = (main_rs(&aggregates), main_rs(&projection));
    assert!(a.contains("fingerprint: \""), "{a}");
    assert_ne!(
        normalize_fingerprint(&a),
        a,
        "the fingerprint is a hex string"
    );
    let without_app = |t: &str| {
        t.replace("golden_aggregates", "X")
            .replace("golden_projection", "X")
    };
    // Different pipelines, different fingerprints (everything else in main.rs is alike).
    assert_ne!(without_app(&a), without_app(&b));
    assert_eq!(
        normalize_fingerprint(&without_app(&a)),
        normalize_fingerprint(&without_app(&b))
    );
}

#[test]
fn diff_shows_the_first_differing_line() {
    let d = diff("a\nb\nc\n", "a\nB\nc\n");
    assert!(
        d.starts_with("@@ first difference at line 2 @@\n  a\n- b\n- c\n+ B\n+ c\n"),
        "{d}"
    );
}

/// Writes the `aggregates` crate with the real runtime and type-checks it with cargo, sharing
/// `<workspace>/target/pipelines` (which already holds the runtime's dependencies): every
/// aggregate kind over every argument type compiles.
#[test]
fn aggregates_crate_type_checks() {
    let (_config_dir, generated) = generate_case("aggregates", &common::real_options());
    assert_eq!(generated.crate_name, "golden-aggregates");
    common::assert_type_checks(&generated);
}

/// The same for `projection`: casts, negation, string and decimal literals, a projection over
/// an aggregation.
#[test]
fn projection_crate_type_checks() {
    let (_config_dir, generated) = generate_case("projection", &common::real_options());
    common::assert_type_checks(&generated);
}

/// The same for `windows`: rows counted in every TUMBLE and HOP window they fall in.
#[test]
fn windows_crate_type_checks() {
    let (_config_dir, generated) = generate_case("windows", &common::real_options());
    common::assert_type_checks(&generated);
}

/// The same for `postgres`: a composite text + integer primary key carried through a
/// projection, key-changing updates decoded by the runtime, the `postgres` runtime feature.
#[test]
fn postgres_crate_type_checks() {
    let (_config_dir, generated) = generate_case("postgres", &common::real_options());
    let manifest = generated
        .files
        .iter()
        .find(|(p, _)| p == Path::new("Cargo.toml"))
        .map(|(_, text)| text.as_str())
        .unwrap_or_default();
    assert!(manifest.contains("features = [\"postgres\"]"), "{manifest}");
    common::assert_type_checks(&generated);
}

/// Where a connection points is not part of the code fingerprint: a rotated password or a new
/// host keeps the cache; a changed statement does not.
#[test]
fn connection_settings_do_not_change_the_fingerprint() {
    let yaml = std::fs::read_to_string(manifest_dir().join("tests/fixtures/sql/postgres.yaml"))
        .expect("fixture");
    let main_rs = |yaml: &str| {
        let (_dir, generated) = generate_text("postgres", yaml, &golden_options());
        generated
            .files
            .into_iter()
            .find(|(p, _)| p == Path::new("src/main.rs"))
            .map(|(_, text)| text)
            .expect("main.rs")
    };
    let fingerprint = |text: String| {
        text.lines()
            .find(|l| l.contains("fingerprint:"))
            .map(str::to_string)
            .expect("fingerprint line")
    };
    let original = fingerprint(main_rs(&yaml));
    assert_eq!(
        original,
        fingerprint(main_rs(&yaml.replace("secret", "rotated")))
    );
    assert_ne!(
        original,
        fingerprint(main_rs(&yaml.replace("amount * 2", "amount * 3")))
    );
}
