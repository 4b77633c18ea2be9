//! Postgres sources in the catalog: introspection against the local server (127.0.0.1:5432,
//! user postgres, trust auth), the lock file, and the errors. Each test owns a database
//! `dozerc_cat_<name>_<pid>`, dropped at the end even when the test fails.

use dozerc::catalog::{resolve_with, CatalogOptions, ResolvedSource};
use dozerc::diagnostics::{render, SourceFile};
use dozerc::plan::{PgParams, SourceKind, SqlType};
use postgres::{Client, NoTls};
use std::path::Path;

const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";

const SALES_DATA: &str = r#"CREATE TABLE sales_data (
    "InvoiceNo" text, "StockCode" text, "Description" text, "Quantity" int,
    "InvoiceDate" timestamp, "UnitPrice" numeric(10,2), "CustomerID" int, "Country" text,
    id bigserial PRIMARY KEY)"#;

/// A database for one test, dropped (WITH (FORCE)) when the guard goes out of scope.
struct Db {
    name: String,
}

impl Db {
    fn new(test: &str, setup: &str) -> Db {
        let name = format!("dozerc_cat_{test}_{}", std::process::id());
        let db = Db { name };
        db.drop_now().expect("local Postgres at 127.0.0.1:5432");
        let mut admin = Client::connect(&format!("{SERVER} dbname=postgres"), NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {}", db.name))
            .unwrap();
        let mut client = Client::connect(&format!("{SERVER} dbname={}", db.name), NoTls).unwrap();
        client.batch_execute(setup).unwrap();
        db
    }

    fn drop_now(&self) -> Result<(), postgres::Error> {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        Client::connect(&format!("{SERVER} dbname=postgres"), NoTls)?.batch_execute(&sql)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.drop_now();
    }
}

fn config(port: u16, database: &str, table_name: &str, source_extra: &str) -> String {
    format!(
        "app_name: shop
connections:
  - name: pg
    config: !Postgres
      user: postgres
      host: 127.0.0.1
      port: {port}
      database: {database}
sources:
  - name: sales
    table_name: {table_name}
    connection: pg
{source_extra}
sql: |
  SELECT Country, COUNT(*) AS n INTO by_country FROM sales GROUP BY Country;
"
    )
}

fn load(dir: &Path, text: &str) -> dozerc::config::LoadedConfig {
    let file = SourceFile::new(
        dir.join("dozer-config.yaml"),
        "dozer-config.yaml",
        text.to_string(),
    );
    dozerc::config::parse(file, dir.to_path_buf()).unwrap_or_else(|e| panic!("{}", render(&e)))
}

/// Resolves; an error comes back as its location, message and help, one per line (rendering
/// wraps long lines, which makes substring checks brittle).
fn resolve(dir: &Path, text: &str, refresh: bool) -> Result<Vec<ResolvedSource>, String> {
    let options = CatalogOptions {
        refresh_schema: refresh,
    };
    resolve_with(&load(dir, text), options).map_err(|e| {
        format!(
            "{}\n{}\n{}\n--- rendered:\n{}",
            e.location().unwrap_or_default(),
            e.message(),
            e.help_text().unwrap_or_default(),
            render(&e)
        )
    })
}

#[track_caller]
fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

fn columns(source: &ResolvedSource) -> Vec<(&str, SqlType, bool)> {
    let columns = &source.table.columns;
    columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty, c.nullable))
        .collect()
}

#[test]
fn the_seed_table_is_introspected_with_types_nullability_and_key() {
    let db = Db::new("seed", SALES_DATA);
    let dir = tempfile::tempdir().unwrap();
    let text = config(5432, &db.name, "sales_data", "");
    let sources = resolve(dir.path(), &text, false).unwrap();
    use SqlType::*;
    assert_eq!(
        columns(&sources[0]),
        [
            ("InvoiceNo", String, true),
            ("StockCode", String, true),
            ("Description", String, true),
            ("Quantity", Int, true),
            ("InvoiceDate", Timestamp, true),
            ("UnitPrice", Decimal, true),
            ("CustomerID", Int, true),
            ("Country", String, true),
            ("id", Int, false),
        ]
    );
    assert_eq!(sources[0].table.primary_key, [8]);
    assert_eq!(
        sources[0].table.kind,
        SourceKind::Postgres {
            connection: "pg".into(),
            schema: "public".into(),
            table: "sales_data".into(),
            replica_identity: "default".into(),
            params: PgParams {
                host: "127.0.0.1".into(),
                port: 5432,
                user: "postgres".into(),
                password: None,
                database: db.name.clone(),
                ssl_mode: "prefer".into(),
            },
        }
    );
    let lock = std::fs::read_to_string(dir.path().join("dozer-config.lock")).unwrap();
    let server = format!("\"server\": \"127.0.0.1:5432/{}\"", db.name);
    has(&lock, &server);
    has(&lock, "\"name\": \"UnitPrice\",\n          \"type\": \"Decimal\",\n          \"pg_type\": \"numeric(10,2)\",\n          \"nullable\": true");
    has(
        &lock,
        "\"primary_key\": [\n        \"id\"\n      ],\n      \"replica_identity\": \"default\"",
    );

    // `check` passes: the whole config compiles to a plan ...
    let compiled = dozerc::compile_loaded(load(dir.path(), &text)).unwrap();
    // ... and the crate reads it with the runtime's Postgres source.
    let options = dozerc::codegen::CrateOptions {
        config_name: "dozer-config.yaml".into(),
        runtime_path: dir.path().join("runtime"),
        target_dir: dir.path().join("target"),
        home_dir: dir.path().join(".dozer"),
        rest_host: "127.0.0.1".into(),
        rest_port: 8080,
        grpc_host: "0.0.0.0".into(),
        grpc_port: 50051,
        jwt_secret: None,
    };
    let generated = dozerc::codegen::generate(&compiled.pipeline, &options)
        .unwrap_or_else(|e| panic!("{}", e.message()));
    let manifest = &generated
        .files
        .iter()
        .find(|(p, _)| p.ends_with("Cargo.toml"))
        .unwrap()
        .1;
    has(manifest, "features = [\"postgres\"]");
}

#[test]
fn schema_qualified_names_and_the_schema_field_both_work() {
    let db = Db::new(
        "schema",
        "CREATE SCHEMA shop;
         CREATE TABLE shop.orders (region text NOT NULL, day date, amount float8 NOT NULL,
             paid bool, doc jsonb, raw bytea, ref uuid, code char(3), at timestamptz,
             small int2, PRIMARY KEY (day, region));
         ALTER TABLE shop.orders REPLICA IDENTITY FULL;",
    );
    let dir = tempfile::tempdir().unwrap();
    let qualified = resolve(
        dir.path(),
        &config(5432, &db.name, "shop.orders", ""),
        false,
    )
    .unwrap();
    let by_field = resolve(
        dir.path(),
        &config(5432, &db.name, "orders", "    schema: shop"),
        false,
    )
    .unwrap();
    for sources in [&qualified, &by_field] {
        use SqlType::*;
        assert_eq!(
            columns(&sources[0]),
            [
                ("region", String, false),
                ("day", Date, false),
                ("amount", Float, false),
                ("paid", Boolean, true),
                ("doc", Json, true),
                ("raw", Binary, true),
                ("ref", String, true),
                ("code", String, true),
                ("at", Timestamp, true),
                ("small", Int, true),
            ]
        );
        assert_eq!(sources[0].table.primary_key, [1, 0]);
        let SourceKind::Postgres {
            schema,
            replica_identity,
            ..
        } = &sources[0].table.kind
        else {
            panic!("not a Postgres source");
        };
        assert_eq!(
            (schema.as_str(), replica_identity.as_str()),
            ("shop", "full")
        );
    }
}

#[test]
fn columns_selects_and_unknown_columns_are_listed() {
    let db = Db::new(
        "columns",
        &format!("{SALES_DATA}; ALTER TABLE sales_data ADD COLUMN wait interval"),
    );
    let dir = tempfile::tempdir().unwrap();
    let extra = "    columns:\n      - Country\n      - quantity\n      - id";
    let sources = resolve(
        dir.path(),
        &config(5432, &db.name, "sales_data", extra),
        false,
    )
    .unwrap();
    assert_eq!(
        columns(&sources[0]),
        [
            ("Country", SqlType::String, true),
            ("Quantity", SqlType::Int, true),
            ("id", SqlType::Int, false)
        ]
    );
    assert_eq!(sources[0].table.primary_key, [2]);

    // Rows are keyed by the primary key: a list without it is refused.
    let extra = "    columns:\n      - Country\n      - quantity";
    let out = resolve(
        dir.path(),
        &config(5432, &db.name, "sales_data", extra),
        false,
    )
    .unwrap_err();
    has(
        &out,
        "`columns` leaves out `id`, part of the primary key of `public.sales_data`",
    );
    has(&out, "add `id` to the list");

    let extra = "    columns:\n      - Country\n      - Quantiy";
    let out = resolve(
        dir.path(),
        &config(5432, &db.name, "sales_data", extra),
        false,
    )
    .unwrap_err();
    has(&out, "table `public.sales_data` has no column `Quantiy`");
    has(&out, "did you mean `Quantity`?");
    has(&out, "its columns are: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country, id, wait");
    has(&out, "dozer-config.yaml:13:5");
}

#[test]
fn a_table_without_primary_key_can_be_aggregated_but_not_projected() {
    let db = Db::new(
        "nokey",
        "CREATE TABLE sales_data (\"Country\" text, amount numeric)",
    );
    let dir = tempfile::tempdir().unwrap();
    let text = config(5432, &db.name, "sales_data", "");
    let sources = resolve(dir.path(), &text, false).unwrap();
    assert!(sources[0].table.primary_key.is_empty());
    // The config's statement aggregates: fine.
    dozerc::compile_loaded(load(dir.path(), &text)).unwrap_or_else(|e| panic!("{}", render(&e)));
    // A projection would serve rows one by one, keyed by nothing: refused.
    let projection = text.replace(
        "SELECT Country, COUNT(*) AS n INTO by_country FROM sales GROUP BY Country;",
        "SELECT Country, amount INTO rows_of_sales FROM sales;",
    );
    let Err(err) = dozerc::compile_loaded(load(dir.path(), &projection)) else {
        panic!("a projection of a table without primary key compiled");
    };
    has(
        err.message(),
        "`sales` has no primary key, so its rows cannot be served one by one",
    );
    has(&render(&err), "add a primary key to the table");
    // Nor may an endpoint serve its rows directly.
    let direct =
        format!("{text}endpoints:\n  - name: raw\n    path: /raw\n    table_name: sales\n");
    let Err(err) = dozerc::compile_loaded(load(dir.path(), &direct)) else {
        panic!("an endpoint on a table without primary key compiled");
    };
    has(
        err.message(),
        "endpoint `raw` serves `sales`, which has no primary key",
    );
}

#[test]
fn an_unsupported_type_names_the_column_and_its_type() {
    let db = Db::new(
        "interval",
        "CREATE TABLE sales_data (id int PRIMARY KEY, \"Country\" text, wait interval)",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(dir.path(), &config(5432, &db.name, "sales_data", ""), false).unwrap_err();
    has(&out, "column `wait` of `public.sales_data` has Postgres type `interval`, which dozerc does not support");
    has(&out, "dozer-config.yaml:11:17");
    has(&out, "supported Postgres types: boolean, smallint");
    has(&out, "leave the column out with `columns:`");
}

#[test]
fn an_unknown_table_suggests_the_closest_and_lists_the_tables() {
    let db = Db::new(
        "unknown",
        &format!(
            "{SALES_DATA}; CREATE TABLE customers (id int);
             CREATE VIEW sales_view AS SELECT 1 AS x"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(dir.path(), &config(5432, &db.name, "sales_dat", ""), false).unwrap_err();
    let expected = format!(
        "Postgres database 127.0.0.1:5432/{} has no table `public.sales_dat`",
        db.name
    );
    has(&out, &expected);
    has(&out, "did you mean `sales_data`?");
    has(&out, "tables in schema `public`: customers, sales_data");
    has(&out, "dozer-config.yaml:11:17");

    let out = resolve(dir.path(), &config(5432, &db.name, "sales_view", ""), false).unwrap_err();
    has(
        &out,
        "`public.sales_view` is a view; only tables can be sources",
    );
}

#[test]
fn an_unreachable_server_is_an_error_at_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(dir.path(), &config(1, "shop", "sales_data", ""), false).unwrap_err();
    has(
        &out,
        "cannot connect to Postgres at 127.0.0.1:1/shop (connection `pg`)",
    );
    has(&out, "dozer-config.yaml:3:11");
    has(
        &out,
        "is Postgres running? or commit a lock file: dozerc build --refresh-schema",
    );
    assert!(!dir.path().join("dozer-config.lock").exists());
}

#[test]
fn connection_settings_are_checked_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let no_db = config(5432, "x", "t", "").replace("      database: x\n", "");
    let out = resolve(dir.path(), &no_db, false).unwrap_err();
    has(&out, "Postgres connection `pg` names no database");
    let tls =
        config(5432, "x", "t", "").replace("database: x", "database: x\n      sslmode: sometimes");
    let out = resolve(dir.path(), &tls, false).unwrap_err();
    has(&out, "connection `pg` has an unknown sslmode `sometimes`");
    has(
        &out,
        "one of: disable, allow, prefer, require, verify-ca, verify-full",
    );
    has(&out, "dozer-config.yaml:9:16");
}

#[test]
fn sslmode_is_honoured_when_introspecting() {
    let db = Db::new("tls", SALES_DATA);
    let with_mode = |mode: &str| {
        config(5432, &db.name, "sales_data", "").replace(
            &format!("database: {}", db.name),
            &format!("database: {}\n      sslmode: {mode}", db.name),
        )
    };
    // The machine's server offers TLS with a self-signed certificate: encryption without
    // verification works, verification against the public roots does not.
    for mode in ["disable", "prefer", "require"] {
        let dir = tempfile::tempdir().unwrap();
        let sources = resolve(dir.path(), &with_mode(mode), false)
            .unwrap_or_else(|e| panic!("sslmode {mode}: {e}"));
        let SourceKind::Postgres { params, .. } = &sources[0].table.kind else {
            panic!("not a Postgres source");
        };
        assert_eq!(params.ssl_mode, mode);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(dir.path(), &with_mode("verify-full"), false).unwrap_err();
    has(&out, "cannot connect to Postgres");
}

#[test]
fn a_locked_table_builds_without_the_database_until_refreshed() {
    let db = Db::new("lock", SALES_DATA);
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join("dozer-config.lock");
    let text = config(5432, &db.name, "sales_data", "");
    let first = resolve(dir.path(), &text, false).unwrap();
    let locked = std::fs::read_to_string(&lock_path).unwrap();

    db.drop_now().unwrap();
    // From the lock: same result, same file.
    let second = resolve(dir.path(), &text, false).unwrap();
    assert_eq!(columns(&first[0]), columns(&second[0]));
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), locked);
    // A different selection of the locked table needs no database either.
    let extra = "    columns:\n      - Country\n      - id";
    let picked = resolve(
        dir.path(),
        &config(5432, &db.name, "sales_data", extra),
        false,
    )
    .unwrap();
    assert_eq!(
        columns(&picked[0]),
        [
            ("Country", SqlType::String, true),
            ("id", SqlType::Int, false)
        ]
    );
    // Another table is not in the lock: it needs the database.
    let out = resolve(dir.path(), &config(5432, &db.name, "other", ""), false).unwrap_err();
    has(&out, "cannot connect to Postgres");

    // A refresh reads the database again, which is gone.
    let out = resolve(dir.path(), &text, true).unwrap_err();
    has(&out, "cannot connect to Postgres");
    has(&out, &format!("\"{}\" does not exist", db.name));
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), locked);
}

#[test]
fn a_refresh_picks_up_a_changed_table() {
    let db = Db::new("refresh", SALES_DATA);
    let dir = tempfile::tempdir().unwrap();
    let text = config(5432, &db.name, "sales_data", "");
    resolve(dir.path(), &text, false).unwrap();
    let mut client = Client::connect(&format!("{SERVER} dbname={}", db.name), NoTls).unwrap();
    client
        .batch_execute("ALTER TABLE sales_data ADD COLUMN note varchar(20) NOT NULL DEFAULT ''")
        .unwrap();
    drop(client);
    assert_eq!(
        resolve(dir.path(), &text, false).unwrap()[0]
            .table
            .columns
            .len(),
        9
    );
    let refreshed = resolve(dir.path(), &text, true).unwrap();
    assert_eq!(
        columns(&refreshed[0]).last().copied(),
        Some(("note", SqlType::String, false))
    );
    let lock = std::fs::read_to_string(dir.path().join("dozer-config.lock")).unwrap();
    has(&lock, "\"pg_type\": \"character varying(20)\"");
}
