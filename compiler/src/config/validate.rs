//! Checks a parsed config for mistakes serde cannot see: names that clash,
//! references to things that do not exist, unusable names, ports and paths.
//!
//! Each check reports the first problem as a [`CompileError`] on the
//! offending value's span, with a help line saying how to fix it. Whether an
//! endpoint's `table_name` exists is left to the SQL compiler, which knows
//! the SQL's output tables.

use std::collections::HashMap;

use super::{ConnectionConfig, LoadedConfig, PathSeg, TableFormat};
use crate::plan::SqlType;

/// Dozer's column type names, as written in CSV schemas (case-insensitive).
const FIELD_TYPES: [&str; 11] = SqlType::NAMES;
use crate::diagnostics::{closest, CompileError};
use PathSeg::{Index, Key};

/// Runs every check, in file order of the sections.
pub(crate) fn validate(loaded: &LoadedConfig) -> Result<(), CompileError> {
    app_name(loaded)?;
    connections(loaded)?;
    sources(loaded)?;
    endpoints(loaded)?;
    api(loaded)
}

/// The app name becomes the generated crate's name.
fn app_name(loaded: &LoadedConfig) -> Result<(), CompileError> {
    let name = &loaded.config.app_name;
    let at = [Key("app_name")];
    if name.trim().is_empty() {
        return Err(loaded
            .error_at(&at, "`app_name` is empty", "empty name")
            .with_help(
            "give the app a name made of letters, digits, `_` and `-`, e.g. `app_name: ecommerce`",
        ));
    }
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_chars || !starts_ok {
        let suggestion: String = name
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let suggestion = if suggestion.starts_with(|c: char| c.is_ascii_digit()) {
            format!("app_{suggestion}")
        } else {
            suggestion
        };
        return Err(loaded
            .error_at(
                &at,
                format!("`app_name` `{name}` cannot be used as a crate name"),
                "not a valid crate name",
            )
            .with_help(format!(
                "use ASCII letters, digits, `_` and `-`, starting with a letter, e.g. `{suggestion}`"
            )));
    }
    Ok(())
}

/// Reports the second of two items with the same name, mentioning the first.
fn no_duplicates<'a>(
    loaded: &LoadedConfig,
    section: &str,
    field: &str,
    what: &str,
    values: impl Iterator<Item = &'a str>,
) -> Result<(), CompileError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, value) in values.enumerate() {
        if let Some(first) = seen.insert(value, i) {
            let first_line = loaded
                .span_of(&[Key(section), Index(first), Key(field)])
                .map(|s| loaded.file.line_col(s.start).0);
            let where_first = first_line.map_or(String::new(), |l| format!(" on line {l}"));
            return Err(loaded
                .error_at(
                    &[Key(section), Index(i), Key(field)],
                    format!("duplicate {what} `{value}`"),
                    format!("{what} already used"),
                )
                .with_help(format!(
                    "`{value}` is already the {what} of {section}[{first}]{where_first}; {what}s must be unique"
                )));
        }
    }
    Ok(())
}

/// Unique connection names, unique table names, valid CSV schemas.
fn connections(loaded: &LoadedConfig) -> Result<(), CompileError> {
    let conns = &loaded.config.connections;
    no_duplicates(
        loaded,
        "connections",
        "name",
        "connection name",
        conns.iter().map(|c| c.name.as_str()),
    )?;
    for (i, conn) in conns.iter().enumerate() {
        let ConnectionConfig::LocalStorage(local) = &conn.config else {
            continue;
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (j, table) in local.tables.iter().enumerate() {
            let spec = table.spec();
            let table_at = |rest: &[PathSeg<'static>]| {
                let mut path = vec![
                    Key("connections"),
                    Index(i),
                    Key("config"),
                    Key("tables"),
                    Index(j),
                ];
                path.extend_from_slice(rest);
                path
            };
            if seen.insert(spec.name.as_str(), j).is_some() {
                return Err(loaded
                    .error_at(
                        &table_at(&[Key("name")]),
                        format!(
                            "duplicate table name `{}` in connection `{}`",
                            spec.name, conn.name
                        ),
                        "table name already used",
                    )
                    .with_help("table names must be unique within a connection"));
            }
            let TableFormat::CSV(csv) = &spec.config;
            for (column, type_name) in csv.schema.iter().flatten() {
                if FIELD_TYPES
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(type_name))
                {
                    continue;
                }
                let mut path = table_at(&[Key("config"), Key("schema")]);
                path.push(Key(column));
                let mut error = loaded.error_at(
                    &path,
                    format!("unknown column type `{type_name}` for column `{column}`"),
                    "unknown type",
                );
                if let Some(best) = closest(type_name, FIELD_TYPES) {
                    error = error.with_help(format!("did you mean `{best}`?"));
                }
                return Err(
                    error.with_help(format!("column types are: {}", FIELD_TYPES.join(", ")))
                );
            }
        }
    }
    Ok(())
}

/// Unique source names; each source's connection and table exist.
fn sources(loaded: &LoadedConfig) -> Result<(), CompileError> {
    let config = &loaded.config;
    no_duplicates(
        loaded,
        "sources",
        "name",
        "source name",
        config.sources.iter().map(|s| s.name.as_str()),
    )?;
    let known: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
    for (i, source) in config.sources.iter().enumerate() {
        let Some(conn) = config
            .connections
            .iter()
            .find(|c| c.name == source.connection)
        else {
            let mut error = loaded.error_at(
                &[Key("sources"), Index(i), Key("connection")],
                format!(
                    "source `{}` uses unknown connection `{}`",
                    source.name, source.connection
                ),
                "no connection with this name",
            );
            if let Some(best) = closest(&source.connection, known.iter().copied()) {
                error = error.with_help(format!("did you mean `{best}`?"));
            }
            let help = if known.is_empty() {
                "no connections are defined: add one under `connections:`".to_string()
            } else {
                format!("known connections: {}", backquoted(&known))
            };
            return Err(error.with_help(help));
        };
        let ConnectionConfig::LocalStorage(local) = &conn.config else {
            continue;
        };
        let tables: Vec<&str> = local
            .tables
            .iter()
            .map(|t| t.spec().name.as_str())
            .collect();
        if !tables.contains(&source.table_name.as_str()) {
            let mut error = loaded.error_at(
                &[Key("sources"), Index(i), Key("table_name")],
                format!(
                    "connection `{}` has no table `{}`",
                    conn.name, source.table_name
                ),
                "no such table",
            );
            if let Some(best) = closest(&source.table_name, tables.iter().copied()) {
                error = error.with_help(format!("did you mean `{best}`?"));
            }
            let help = if tables.is_empty() {
                format!("connection `{}` defines no tables", conn.name)
            } else {
                format!("tables of `{}`: {}", conn.name, backquoted(&tables))
            };
            return Err(error.with_help(help));
        }
    }
    Ok(())
}

/// Paths the REST server uses itself.
const RESERVED_PATHS: [&str; 3] = ["/health", "/metrics", "/openapi.json"];

/// Routes every endpoint serves below its own path.
const SUB_ROUTES: [&str; 2] = ["query", "count"];

/// Unique endpoint names and paths; each path is a plain `/a/b` path that
/// does not collide with the routes dozerc adds below every endpoint.
fn endpoints(loaded: &LoadedConfig) -> Result<(), CompileError> {
    let eps = &loaded.config.endpoints;
    no_duplicates(
        loaded,
        "endpoints",
        "name",
        "endpoint name",
        eps.iter().map(|e| e.name.as_str()),
    )?;
    no_duplicates(
        loaded,
        "endpoints",
        "path",
        "endpoint path",
        eps.iter().map(|e| e.path.as_str()),
    )?;
    for (i, ep) in eps.iter().enumerate() {
        let at = [Key("endpoints"), Index(i), Key("path")];
        let path = ep.path.as_str();
        let fail = |message: String, label: &str, help: String| {
            Err(loaded.error_at(&at, message, label).with_help(help))
        };
        if !path.starts_with('/') {
            return fail(
                format!("endpoint path `{path}` must start with `/`"),
                "missing leading `/`",
                format!("write `path: /{}`", path.trim_start_matches('/')),
            );
        }
        if path.contains(['{', '}']) {
            return fail(
                format!("endpoint path `{path}` cannot contain `{{` or `}}`"),
                "path parameter",
                "path parameters are not supported: every endpoint already serves `GET <path>/{id}` by primary key".to_string(),
            );
        }
        let segments: Vec<&str> = path[1..].split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return fail(
                format!("endpoint path `{path}` has an empty segment"),
                "empty segment",
                "remove the trailing or doubled `/`, e.g. `/orders`".to_string(),
            );
        }
        if RESERVED_PATHS.contains(&path) {
            return fail(
                format!("endpoint path `{path}` is reserved"),
                "reserved path",
                "`/health`, `/metrics` and `/openapi.json` are served by every pipeline; choose another path"
                    .to_string(),
            );
        }
        if let Some(bad) = path
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.')))
        {
            return fail(
                format!("endpoint path `{path}` contains `{bad}`"),
                "invalid character",
                "use ASCII letters, digits, `_`, `-` and `.` between `/`".to_string(),
            );
        }
        if let (Some(last), true) = (segments.last(), segments.len() >= 2) {
            if SUB_ROUTES.contains(last) {
                let parent = &path[..path.len() - last.len() - 1];
                return fail(
                    format!("endpoint path `{path}` clashes with the `/{last}` route of `{parent}`"),
                    "route clash",
                    "every endpoint also serves `POST <path>/query` and `POST <path>/count`: rename the last segment".to_string(),
                );
            }
        }
    }
    Ok(())
}

/// REST and gRPC need distinct, non-zero ports; a JWT secret must be long enough to be one.
fn api(loaded: &LoadedConfig) -> Result<(), CompileError> {
    let api = &loaded.config.api;
    if let Some(security) = &api.api_security {
        jwt_secret(loaded, security.jwt_secret())?;
    }
    for (which, port) in [("rest", api.rest.port), ("grpc", api.grpc.port)] {
        if port == 0 {
            return Err(loaded
                .error_at(
                    &[Key("api"), Key(which), Key("port")],
                    format!("`api.{which}.port` is 0"),
                    "port 0",
                )
                .with_help("choose a fixed port between 1 and 65535 so clients can find the API"));
        }
    }
    if api.rest.port == api.grpc.port {
        // Point at whichever port was written (the defaults differ).
        let grpc = [Key("api"), Key("grpc"), Key("port")];
        let rest = [Key("api"), Key("rest"), Key("port")];
        let at: &[PathSeg] = if loaded.span_of(&grpc).is_some() {
            &grpc
        } else {
            &rest
        };
        return Err(loaded
            .error_at(at, format!("REST and gRPC APIs both use port {}", api.rest.port), "same port as the other API")
            .with_help("give `api.rest.port` and `api.grpc.port` different values (defaults: 8080 and 50051)"));
    }
    Ok(())
}

/// The shortest JWT secret: RFC 7518 §3.2 requires an HS256 key of at least 256 bits, and a
/// shorter one can be guessed offline from any token. Kept equal to the runtime's
/// `MIN_SECRET_BYTES` (the runtime refuses a short `DOZER_JWT_SECRET` too).
pub(crate) const MIN_JWT_SECRET_BYTES: usize = 32;

/// An error rather than a warning: a guessable secret lets anyone mint tokens for every
/// endpoint, and the fix costs one command.
fn jwt_secret(loaded: &LoadedConfig, secret: &str) -> Result<(), CompileError> {
    let at = [Key("api"), Key("api_security")];
    let generate = "generate one with `openssl rand -base64 32`, or leave `api_security` out and set DOZER_JWT_SECRET when running the pipeline";
    if secret.trim().is_empty() {
        return Err(loaded
            .error_at(&at, "the JWT secret in `api.api_security` is empty", "empty secret")
            .with_help(format!("write `api_security: !Jwt <secret>` with a secret of at least {MIN_JWT_SECRET_BYTES} bytes; {generate}")));
    }
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(loaded
            .error_at(
                &at,
                format!(
                    "the JWT secret in `api.api_security` is {} bytes long; HS256 needs at least {MIN_JWT_SECRET_BYTES}",
                    secret.len()
                ),
                "secret too short",
            )
            .with_help(format!("a shorter secret can be guessed from any token it signed (RFC 7518 §3.2); {generate}")));
    }
    Ok(())
}

/// "`a`, `b`, `c`".
fn backquoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
