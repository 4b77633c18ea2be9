//! Config loading: every error message, as the user sees it rendered, plus
//! spans, SQL position mapping and path helpers on valid configs.

use std::path::{Path, PathBuf};

use dozerc::config::{
    self, ConnectionConfig, LoadedConfig, LocalTable, PathSeg, PathSeg::Index, PathSeg::Key,
    TableFormat,
};
use dozerc::diagnostics::{render, CompileError, SourceFile, Span};

/// The seed e-commerce app on local files.
const LOCAL: &str = include_str!("fixtures/config/ecommerce-local.yaml");

/// A JWT secret long enough for HS256.
const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// The seed's Postgres connection form.
const POSTGRES: &str = include_str!("fixtures/config/postgres.yaml");

fn file(yaml: &str) -> SourceFile {
    SourceFile::new("/app/dozer-config.yaml", "dozer-config.yaml", yaml)
}

fn parse(yaml: &str) -> Result<LoadedConfig, CompileError> {
    config::parse(file(yaml), PathBuf::from("/app"))
}

fn ok(yaml: &str) -> LoadedConfig {
    match parse(yaml) {
        Ok(loaded) => loaded,
        Err(e) => panic!("expected a valid config, got:\n{}", render(&e)),
    }
}

/// Parses `yaml`, expecting an error whose rendering contains the message,
/// `dozer-config.yaml:LINE:COL` and every help fragment.
fn fails(yaml: &str, message: &str, location: &str, helps: &[&str]) -> String {
    let rendered = match parse(yaml) {
        Ok(_) => panic!("expected an error containing {message:?}"),
        Err(e) => render(&e),
    };
    let mut wanted = vec![
        message.to_string(),
        format!("[dozer-config.yaml:{location}]"),
    ];
    wanted.extend(helps.iter().map(|h| h.to_string()));
    // Long lines wrap at 100 columns: compare without line breaks.
    let flat = rendered
        .split('\n')
        .map(|l| l.trim_start_matches([' ', '│']).trim())
        .collect::<Vec<_>>()
        .join(" ");
    for w in &wanted {
        assert!(flat.contains(w.as_str()), "missing {w:?} in:\n{rendered}");
    }
    if !helps.is_empty() {
        let help_at = flat.find("help: ").unwrap_or(flat.len());
        assert!(
            helps.iter().all(|h| flat[help_at..].contains(h)),
            "not a help:\n{rendered}"
        );
    }
    rendered
}

#[test]
fn seed_local_storage_config_parses() {
    let loaded = ok(LOCAL);
    let c = &loaded.config;
    assert_eq!(c.app_name, "ecommerce");
    assert_eq!(c.version, Some(1));
    let ConnectionConfig::LocalStorage(local) = &c.connections[0].config else {
        panic!("expected LocalStorage");
    };
    assert_eq!(local.details.path, "data");
    let LocalTable::Table(table) = &local.tables[0];
    assert_eq!(table.name, "sales_data");
    let TableFormat::CSV(csv) = &table.config;
    assert_eq!(csv.extension(), ".csv");
    let schema: Vec<(&str, &str)> = csv
        .schema
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(schema, [("Quantity", "Int"), ("UnitPrice", "Decimal")]);
    assert_eq!(
        c.endpoints[0].index.as_ref().map(|i| i.primary_key.clone()),
        Some(vec!["CustomerID".to_string()])
    );
    assert_eq!((c.api.rest.port, c.api.grpc.port), (8080, 50051));
    assert_eq!(c.api.rest.host, "0.0.0.0");
    assert!(c
        .sql
        .as_deref()
        .is_some_and(|s| s.starts_with("SELECT CustomerID")));
}

#[test]
fn seed_postgres_config_parses() {
    let loaded = ok(POSTGRES);
    let ConnectionConfig::Postgres(pg) = &loaded.config.connections[0].config else {
        panic!("expected Postgres");
    };
    assert_eq!(pg.port, Some(5432));
    assert_eq!(pg.database.as_deref(), Some("sales"));
    assert_eq!(pg.sslmode, None);
    assert_eq!(
        loaded.config.sources[0].columns.as_deref(),
        Some(&["id".to_string(), "amount".to_string()][..])
    );
}

/// One test per error message: the YAML => the message, where it points
/// (`LINE:COL` in dozer-config.yaml), and fragments of its help lines.
macro_rules! error_tests {
    ($($name:ident: $yaml:expr => $message:expr, $at:expr, [$($help:expr),* $(,)?];)*) => {
        $(#[test]
        fn $name() {
            fails(&$yaml, $message, $at, &[$($help),*]);
        })*
    };
}

error_tests! {
    misspelled_connection_tag: POSTGRES.replace("!Postgres", "!Postgress")
        => "unknown connection type `Postgress`, expected `Postgres` or `LocalStorage`", "3:13",
        ["did you mean `!Postgres`?"];
    dozer_connection_type_not_supported: POSTGRES.replace("!Postgres", "!Kafka")
        => "connection type `Kafka` is not supported yet", "3:13",
        ["dozerc supports `!Postgres` or `!LocalStorage`"];
    parquet_tables_not_supported: LOCAL.replace("!CSV", "!Parquet")
        => "table format `Parquet` is not supported yet", "11:19", ["dozerc supports `!CSV`"];
    missing_tag: POSTGRES.replace("config: !Postgres", "config:")
        => "missing connection type tag in `connections[0].config`", "4:7",
        ["start the value with a tag, e.g. `config: !Postgres`"];
    unknown_key_lists_valid_keys: POSTGRES.replace("      user:", "      usr:")
        => "unknown key `usr` in `connections[0].config`", "4:7",
        ["did you mean `user`?",
         "valid keys here: `user`, `password`, `host`, `port`, `database`, `sslmode`, `connection_url`"];
    missing_required_key: LOCAL.replace("    path: /clv\n", "")
        => "missing required key `path` in `endpoints[0]`", "27:5", ["add `path: ...` to this mapping"];
    wrong_value_type: format!("{LOCAL}api:\n  rest:\n    port: 99999\n")
        => "`api.rest.port`: invalid value: integer `99999`, expected an integer from 0 to 65535",
        "35:11", [];
    malformed_yaml: "app_name: x\n  bad: indent\n"
        => "invalid YAML: mapping values are not allowed in this context", "2:6",
        ["check the indentation"];
    duplicate_yaml_key: LOCAL.replace("version: 1\n", "version: 1\napp_name: again\n")
        => "duplicate key `app_name` at the top level", "3:1",
        ["`app_name` is already set on line 1; keep only one of them"];
    several_yaml_documents: format!("{LOCAL}---\napp_name: other\n")
        => "the config must be a single YAML document", "33:1", ["remove this `---` line"];
    top_level_not_a_mapping: "- app_name: x\n"
        => "invalid type: sequence, expected a mapping", "1:1", ["starting with `app_name: ...`"];
    app_name_empty: "app_name: ''\n" => "`app_name` is empty", "1:11", ["give the app a name"];
    app_name_not_a_crate_name: "app_name: my app!\n"
        => "`app_name` `my app!` cannot be used as a crate name", "1:11", ["e.g. `my_app_`"];
    duplicate_connection_names: LOCAL.replacen(
            "sources:", "  - name: files\n    config: !Postgres\n      host: h\nsources:", 1)
        => "duplicate connection name `files`", "17:11",
        ["`files` is already the connection name of connections[0] on line 4"];
    duplicate_source_names: LOCAL.replace(
            "sql: |", "  - name: sales_data\n    table_name: sales_data\n    connection: files\nsql: |")
        => "duplicate source name `sales_data`", "21:11", ["source names must be unique"];
    duplicate_endpoint_names: format!(
            "{LOCAL}  - name: customer_lifetime_value\n    path: /other\n    table_name: t\n")
        => "duplicate endpoint name `customer_lifetime_value`", "33:11",
        ["endpoint names must be unique"];
    duplicate_endpoint_paths: format!("{LOCAL}  - name: other\n    path: /clv\n    table_name: t\n")
        => "duplicate endpoint path `/clv`", "34:11",
        ["is already the endpoint path of endpoints[0] on line 28"];
    source_with_unknown_connection: LOCAL.replace("connection: files", "connection: file")
        => "source `sales_data` uses unknown connection `file`", "20:17",
        ["did you mean `files`?", "known connections: `files`"];
    source_with_unknown_table: LOCAL.replace("table_name: sales_data\n    conn", "table_name: sales\n    conn")
        => "connection `files` has no table `sales`", "19:17", ["tables of `files`: `sales_data`"];
    endpoint_path_without_slash: LOCAL.replace("path: /clv", "path: clv")
        => "endpoint path `clv` must start with `/`", "28:11", ["write `path: /clv`"];
    endpoint_path_reserved: LOCAL.replace("path: /clv", "path: /health")
        => "endpoint path `/health` is reserved", "28:11",
        ["`/health`, `/metrics` and `/openapi.json` are served by every pipeline"];
    endpoint_path_with_parameter: LOCAL.replace("path: /clv", "path: /clv/{id}")
        => "endpoint path `/clv/{id}` cannot contain `{` or `}`", "28:11",
        ["path parameters are not supported"];
    endpoint_path_clashing_with_query_route: LOCAL.replace("path: /clv", "path: /clv/count")
        => "endpoint path `/clv/count` clashes with the `/count` route of `/clv`", "28:11",
        ["every endpoint also serves `POST <path>/query` and `POST <path>/count`"];
    rest_and_grpc_on_same_port: format!("{LOCAL}api:\n  rest:\n    port: 9000\n  grpc:\n    port: 9000\n")
        => "REST and gRPC APIs both use port 9000", "37:11",
        ["give `api.rest.port` and `api.grpc.port` different values"];
    port_zero: format!("{LOCAL}api:\n  grpc:\n    port: 0\n")
        => "`api.grpc.port` is 0", "35:11", ["choose a fixed port between 1 and 65535"];
    csv_schema_type_typo: LOCAL.replace("UnitPrice: Decimal", "UnitPrice: Decimel")
        => "unknown column type `Decimel` for column `UnitPrice`", "16:26",
        ["did you mean `Decimal`?", "column types are: Int, UInt, Float, Decimal, Boolean"];
    jwt_secret_empty: format!("{LOCAL}api:\n  api_security: !Jwt \"\"\n")
        => "the JWT secret in `api.api_security` is empty", "34:22",
        ["with a secret of at least 32 bytes", "openssl rand -base64 32", "DOZER_JWT_SECRET"];
    jwt_secret_too_short: format!("{LOCAL}api:\n  api_security: !Jwt not-long-enough\n")
        => "the JWT secret in `api.api_security` is 15 bytes long; HS256 needs at least 32", "34:22",
        ["can be guessed from any token it signed", "openssl rand -base64 32"];
    unknown_security_kind: format!("{LOCAL}api:\n  api_security: !Oauth some-client-id\n")
        => "unknown API security kind `Oauth`, expected `Jwt`", "34:17", ["use one of `!Jwt`"];
    misspelled_security_kind: format!("{LOCAL}api:\n  api_security: !JWT {SECRET}\n")
        => "unknown API security kind `JWT`, expected `Jwt`", "34:17", ["did you mean `!Jwt`?"];
    untagged_security: format!("{LOCAL}api:\n  api_security: {SECRET}\n")
        => "missing API security kind tag in `api.api_security`", "34:17",
        ["write `api_security: !Jwt <secret>`"];
}

#[test]
fn missing_key_label_names_the_key() {
    let out = fails(
        &LOCAL.replace("    path: /clv\n", ""),
        "missing required key",
        "27:5",
        &[],
    );
    assert!(out.contains("this mapping has no `path`"), "{out}");
}

#[test]
fn empty_file() {
    let out = render(&parse("\n").expect_err("an empty file is an error"));
    assert!(out.contains("dozer-config.yaml is empty"), "{out}");
    assert!(
        out.contains("help: a config needs at least `app_name: <name>`"),
        "{out}"
    );
}

#[test]
fn csv_schema_types_are_case_insensitive() {
    ok(&LOCAL.replace("Quantity: Int", "Quantity: int"));
}

/// (line, col, text) of a span, for readable assertions.
fn text_at(file: &SourceFile, span: Span) -> (usize, usize, String) {
    let (line, col) = file.line_col(span.start);
    (line, col, file.text[span.start..span.end()].to_string())
}

/// Where SQL position (line, col, len) of `yaml`'s `sql` lands in the YAML.
fn sql_at(yaml: &str, line: usize, col: usize, len: usize) -> (usize, usize, String) {
    let loaded = ok(yaml);
    let sql = loaded.sql().expect("sql present");
    text_at(sql.file(), sql.span(line, col, len))
}

#[test]
fn span_of_finds_nested_values() {
    let loaded = ok(LOCAL);
    let at = |path: &[PathSeg]| text_at(&loaded.file, loaded.span_of(path).expect("indexed"));
    assert_eq!(at(&[Key("app_name")]), (1, 11, "ecommerce".into()));
    let endpoint = [Key("endpoints"), Index(0)];
    let name = at(&[&endpoint[..], &[Key("table_name")]].concat());
    assert_eq!(name, (29, 17, "customer_lifetime_value".into()));
    let key = at(&[&endpoint[..], &[Key("index"), Key("primary_key"), Index(0)]].concat());
    assert_eq!(key, (32, 11, "CustomerID".into()));
    // Tagged collections: the key for mapping values, the tag for items.
    let conn = [Key("connections"), Index(0), Key("config")];
    assert_eq!(at(&conn), (5, 5, "config".into()));
    let table = [&conn[..], &[Key("tables"), Index(0)]].concat();
    assert_eq!(at(&table), (9, 11, "!Table".into()));
    let column = [
        &table[..],
        &[Key("config"), Key("schema"), Key("UnitPrice")],
    ]
    .concat();
    assert_eq!(at(&column), (16, 26, "Decimal".into()));
    // A block scalar underlines its first line.
    assert_eq!(at(&[Key("sql")]).0, 22);
    assert_eq!(loaded.span_of(&[Key("endpoints"), Index(1)]), None);
    assert_eq!(loaded.span_of(&[Key("nope")]), None);
}

#[test]
fn sql_block_scalar_positions_map_to_yaml() {
    let sql = ok(LOCAL).sql().expect("sql present").text;
    assert!(sql.starts_with("SELECT CustomerID"));
    assert_eq!(sql_at(LOCAL, 1, 1, 6), (22, 3, "SELECT".into()));
    // Line 3 of the SQL is "FROM sales_data": column 5 is the space, 6 the name.
    assert_eq!(sql_at(LOCAL, 3, 5, 1), (24, 7, " ".into()));
    assert_eq!(sql_at(LOCAL, 3, 6, 10), (24, 8, "sales_data".into()));
    // Past the end of a line clamps to the line.
    assert_eq!(sql_at(LOCAL, 3, 100, 4).0, 24);
}

#[test]
fn sql_single_line_scalars_map_to_yaml() {
    let a = |value: &str| sql_at(&format!("app_name: x\nsql: {value}\n"), 1, 8, 1);
    assert_eq!(a("SELECT a INTO t FROM s"), (2, 13, "a".into()));
    assert_eq!(a("\"SELECT a INTO t FROM s\""), (2, 14, "a".into()));
    assert_eq!(a("'SELECT a INTO t FROM s'"), (2, 14, "a".into()));
}

#[test]
fn sql_other_block_styles_map_to_yaml() {
    let folded = "app_name: x\nsql: >\n    SELECT a\n    FROM s\n";
    assert_eq!(ok(folded).sql().expect("sql").text, "SELECT a FROM s\n");
    assert_eq!(sql_at(folded, 1, 10, 4), (4, 5, "FROM".into()));
    // Leading blank line kept in the value; multi-byte characters.
    let blank = "app_name: x\nsql: |\n\n  SELECT é\n    FROM s\n";
    assert_eq!(sql_at(blank, 2, 8, 1), (4, 10, "é".into()));
    assert_eq!(sql_at(blank, 3, 3, 4), (5, 5, "FROM".into()));
    // CRLF line endings and a chomping indicator.
    let crlf = "app_name: x\r\nsql: |-\r\n  SELECT a\r\n    FROM s\r\n";
    assert_eq!(sql_at(crlf, 2, 3, 4), (4, 5, "FROM".into()));
    // Explicit indentation indicator: the extra spaces belong to the value.
    let explicit = "app_name: x\nsql: |4\n      SELECT a\n    FROM s\n";
    assert_eq!(sql_at(explicit, 1, 3, 6), (3, 7, "SELECT".into()));
}

#[test]
fn home_dir_and_resolve() {
    let loaded = ok(LOCAL);
    assert_eq!(loaded.home_dir(), Path::new("/app/.dozer"));
    assert_eq!(loaded.resolve("data"), Path::new("/app/data"));
    assert_eq!(loaded.resolve("/abs/data"), Path::new("/abs/data"));
    let custom = ok("app_name: x\nhome_dir: ./state\n");
    assert_eq!(custom.home_dir(), Path::new("/app/./state"));
}

#[test]
fn load_reads_from_disk_and_reports_missing_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dozer-config.yaml");
    std::fs::write(&path, LOCAL).expect("write config");
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(loaded.dir, dir.path());
    assert_eq!(loaded.resolve("data"), dir.path().join("data"));
    let missing = config::load(&dir.path().join("nope.yaml")).expect_err("missing file");
    assert!(
        missing.message().starts_with("cannot read "),
        "{}",
        missing.message()
    );
}

#[test]
fn source_file_positions_round_trip() {
    let f = file("ab\nçd\n");
    assert_eq!(f.offset_of(2, 2), 5);
    assert_eq!(f.line_col(5), (2, 2));
    assert_eq!(f.line_col(0), (1, 1));
    assert_eq!(f.offset_of(9, 1), f.text.len());
    let e = CompileError::at(&f, Span::new(3, 2), "bad", "here").with_help("fix it");
    assert_eq!(e.location().as_deref(), Some("dozer-config.yaml:2:1"));
    let out = render(&e);
    assert!(
        out.contains("× bad") && out.contains("here") && out.contains("help: fix it"),
        "{out}"
    );
    assert_eq!(render(&CompileError::new("plain")).trim(), "× plain");
}

#[test]
fn flow_style_and_secondary_index_are_accepted() {
    let yaml = "app_name: a
connections:
  - {name: f, config: !LocalStorage {details: {path: d}, tables: [!Table {name: t, config: !CSV {path: a}}]}}
sources: [{name: t, table_name: t, connection: f}]
endpoints:
  - {name: e, path: /e, table_name: t, index: {secondary: {create: [{index: !SortedInverted {fields: [a]}}]}}}
";
    let loaded = ok(yaml);
    let span = loaded.span_of(&[Key("sources"), Index(0), Key("connection")]);
    assert_eq!(
        text_at(&loaded.file, span.expect("indexed")),
        (4, 48, "f".into())
    );
    let index = loaded.config.endpoints[0].index.as_ref();
    assert!(index.is_some_and(|i| i.secondary.is_some()));
}

#[test]
fn secondary_index_config_errors_name_the_key() {
    let endpoint = |secondary: &str| {
        format!(
            "app_name: a\nendpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n{secondary}"
        )
    };
    fails(
        &endpoint("        skip: [a]\n"),
        "unknown key `skip` in `endpoints[0].index.secondary`",
        "8:9",
        &["valid keys here: `skip_default`, `create`"],
    );
    fails(
        &endpoint("        create:\n          - index: !Hash\n              fields: [a]\n"),
        "unknown type `Hash`, expected `SortedInverted` or `FullText`",
        "9:20",
        &["use one of `!SortedInverted` or `!FullText`"],
    );
    fails(
        &endpoint(
            "        create:\n          - index: !SortedInverted\n              field: [a]\n",
        ),
        "field",
        "10:15",
        &[],
    );
}

#[test]
fn jwt_security_parses_and_hides_its_secret() {
    let loaded = ok(&format!("{LOCAL}api:\n  api_security: !Jwt {SECRET}\n"));
    let security = loaded.config.api.api_security.as_ref().expect("security");
    assert_eq!(security.jwt_secret(), SECRET);
    assert_eq!(format!("{security:?}"), "Jwt(<redacted>)");
    assert!(!format!("{:?}", loaded.config).contains(SECRET));
    assert!(ok(LOCAL).config.api.api_security.is_none());
}
