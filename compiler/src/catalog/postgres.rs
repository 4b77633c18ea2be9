//! Postgres sources: the table's columns, primary key and replica identity, read from the
//! database's catalog at build time (or from the lock file, see [`super::lock`]).

use super::lock::{Lock, LockColumn, LockEntry};
use super::ResolvedSource;
use crate::config::{LoadedConfig, PathSeg, PostgresConfig};
use crate::diagnostics::{closest, CompileError};
use crate::plan::{PgParams, SourceKind, SqlType};
use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls};
use tls::SslMode as TlsMode;

/// The runtime's TLS connector (libpq `sslmode` meanings), shared as a source file.
#[path = "../../../runtime/src/sources/pg_tls.rs"]
mod tls;
use std::time::Duration;
use PathSeg::{Index, Key};

/// Postgres type names (`pg_type.typname`) dozerc reads, and their SQL types.
const TYPES: [(&str, SqlType); 17] = [
    ("bool", SqlType::Boolean),
    ("int2", SqlType::Int),
    ("int4", SqlType::Int),
    ("int8", SqlType::Int),
    ("float4", SqlType::Float),
    ("float8", SqlType::Float),
    ("numeric", SqlType::Decimal),
    ("text", SqlType::String),
    ("varchar", SqlType::String),
    ("bpchar", SqlType::String),
    ("uuid", SqlType::String),
    ("bytea", SqlType::Binary),
    ("date", SqlType::Date),
    ("timestamp", SqlType::Timestamp),
    ("timestamptz", SqlType::Timestamp),
    ("json", SqlType::Json),
    ("jsonb", SqlType::Json),
];

/// The supported Postgres types, for messages.
pub const SUPPORTED: &str = "boolean, smallint, integer, bigint, real, double precision, numeric, \
     text, varchar, char, uuid, bytea, date, timestamp, timestamptz, json, jsonb";

/// The SQL type of a Postgres type, by `pg_type.typname`.
pub fn sql_type(typname: &str) -> Option<SqlType> {
    TYPES.iter().find(|(n, _)| *n == typname).map(|(_, t)| *t)
}

/// Where and how to connect, from a `!Postgres` connection.
struct Target {
    config: postgres::Config,
    /// The same, for the generated pipeline.
    params: PgParams,
    ssl_mode: TlsMode,
    /// `host:port/database`, for messages and the lock file.
    server: String,
}

/// The source `index`, read from the Postgres connection `conn_index`: from its lock entry when
/// one matches (and `refresh` is false), else from the database. Returns the entry to lock.
pub(super) fn resolve(
    cfg: &LoadedConfig,
    index: usize,
    conn_index: usize,
    pg: &PostgresConfig,
    lock: &Lock,
    refresh: bool,
) -> Result<(ResolvedSource, LockEntry), CompileError> {
    let source = &cfg.config.sources[index];
    let connection = &cfg.config.connections[conn_index].name;
    let target = target(cfg, conn_index, pg)?;
    let (schema, table) = match source.table_name.split_once('.') {
        Some((schema, table)) => (schema.to_string(), table.to_string()),
        None => (
            source
                .schema
                .clone()
                .unwrap_or_else(|| "public".to_string()),
            source.table_name.clone(),
        ),
    };
    let locked = lock
        .sources
        .get(&source.name)
        .filter(|e| !refresh && e.matches(connection, &target.server, &schema, &table));
    let entry = match locked {
        Some(entry) => entry.clone(),
        None => introspect(cfg, index, conn_index, &target, &schema, &table)?,
    };
    let mut resolved = entry.to_resolved(cfg, index)?;
    if let SourceKind::Postgres { params, .. } = &mut resolved.table.kind {
        *params = target.params.clone();
    }
    Ok((resolved, entry))
}

impl Target {
    /// A session, over TLS as the connection's sslmode says; the error is the driver's
    /// message.
    fn connect(&self) -> Result<Client, String> {
        let session = match self.ssl_mode {
            TlsMode::Disable => self.config.connect(NoTls),
            mode => self.config.connect(tls::connector(mode)?),
        };
        session.map_err(|e| driver_message(&e))
    }
}

fn target(
    cfg: &LoadedConfig,
    conn_index: usize,
    pg: &PostgresConfig,
) -> Result<Target, CompileError> {
    let name = &cfg.config.connections[conn_index].name;
    let at = |key| {
        [
            Key("connections"),
            Index(conn_index),
            Key("config"),
            Key(key),
        ]
    };
    let mut config = match &pg.connection_url {
        Some(url) => url.parse::<postgres::Config>().map_err(|e| {
            cfg.error_at(
                &at("connection_url"),
                format!("connection `{name}` has an invalid connection_url: {e}"),
                "not a Postgres URL",
            )
            .with_help("write it as postgresql://user:password@host:5432/database")
        })?,
        None => {
            let mut config = postgres::Config::new();
            config
                .host(pg.host.as_deref().unwrap_or("localhost"))
                .port(pg.port.unwrap_or(5432))
                .user(pg.user.as_deref().unwrap_or("postgres"));
            if let Some(password) = &pg.password {
                config.password(password);
            }
            if let Some(database) = &pg.database {
                config.dbname(database);
            }
            config
        }
    };
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    if config.get_user().is_none() {
        config.user("postgres");
    }
    let Some(database) = config.get_dbname().map(str::to_string) else {
        let url_path = at("connection_url");
        let name_path = [Key("connections"), Index(conn_index), Key("name")];
        let path: &[PathSeg] = if pg.connection_url.is_some() {
            &url_path
        } else {
            &name_path
        };
        return Err(cfg
            .error_at(
                path,
                format!("Postgres connection `{name}` names no database"),
                "which database?",
            )
            .with_help("add `database: <name>` to the connection (or a path to connection_url)"));
    };
    // `sslmode:` wins; else the URL's (the driver reads disable, prefer and require there);
    // libpq's default is `prefer`.
    let url_mode = match config.get_ssl_mode() {
        SslMode::Disable => TlsMode::Disable,
        SslMode::Require => TlsMode::Require,
        _ => TlsMode::Prefer,
    };
    let ssl_mode = match pg.sslmode.as_deref() {
        None => url_mode,
        Some(mode) => TlsMode::parse(mode).ok_or_else(|| {
            cfg.error_at(
                &at("sslmode"),
                format!("connection `{name}` has an unknown sslmode `{mode}`"),
                "unknown sslmode",
            )
            .with_help(format!("one of: {}", TlsMode::NAMES))
        })?,
    };
    config
        .ssl_mode(match ssl_mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        })
        .connect_timeout(Duration::from_secs(10));
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(dir)) => dir.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let params = PgParams {
        host: host.clone(),
        port,
        user: config.get_user().unwrap_or("postgres").to_string(),
        password: config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        database: database.clone(),
        ssl_mode: ssl_mode.as_str().to_string(),
    };
    Ok(Target {
        ssl_mode,
        config,
        params,
        server: format!("{host}:{port}/{database}"),
    })
}

/// A session on Postgres connection `conn_index` of the config (for `dozerc clean`), and the
/// server it reached (`host:port/database`).
pub fn connect(cfg: &LoadedConfig, conn_index: usize) -> Result<(Client, String), CompileError> {
    let crate::config::ConnectionConfig::Postgres(pg) = &cfg.config.connections[conn_index].config
    else {
        return Err(CompileError::new(format!(
            "connection `{}` is not a Postgres connection",
            cfg.config.connections[conn_index].name
        )));
    };
    let target = target(cfg, conn_index, pg)?;
    let client = target.connect().map_err(|e| {
        CompileError::new(format!(
            "cannot connect to Postgres at {}: {e}",
            target.server
        ))
    })?;
    Ok((client, target.server))
}

/// Reads the table from the database.
fn introspect(
    cfg: &LoadedConfig,
    index: usize,
    conn_index: usize,
    target: &Target,
    schema: &str,
    table: &str,
) -> Result<LockEntry, CompileError> {
    let name = &cfg.config.connections[conn_index].name;
    let conn_path = [Key("connections"), Index(conn_index), Key("name")];
    let db_error = |e: postgres::Error| {
        cfg.error_at(
            &conn_path,
            format!(
                "reading `{schema}.{table}` from Postgres at {} (connection `{name}`) failed: {}",
                target.server,
                driver_message(&e)
            ),
            "this connection",
        )
    };
    let mut client = target.connect().map_err(|e| {
        cfg.error_at(
            &conn_path,
            format!(
                "cannot connect to Postgres at {} (connection `{name}`): {e}",
                target.server
            ),
            "this connection",
        )
        .with_help(
            "is Postgres running? or commit a lock file: dozerc build --refresh-schema when it \
             is reachable",
        )
    })?;
    let table_path = [Key("sources"), Index(index), Key("table_name")];
    let found = read_table(&mut client, schema, table).map_err(db_error)?;
    let Some((kind, replica_identity, columns, primary_key)) = found else {
        let tables = tables_in(&mut client, schema).map_err(db_error)?;
        let mut err = cfg.error_at(
            &table_path,
            format!(
                "Postgres database {} has no table `{schema}.{table}`",
                target.server
            ),
            "unknown table",
        );
        if let Some(near) = closest(table, tables.iter().map(String::as_str)) {
            err = err.with_help(format!("did you mean `{near}`?"));
        }
        return Err(err.with_help(if tables.is_empty() {
            format!("schema `{schema}` has no tables")
        } else {
            format!("tables in schema `{schema}`: {}", tables.join(", "))
        }));
    };
    if !matches!(kind.as_str(), "r" | "p") {
        let what = match kind.as_str() {
            "v" => "a view",
            "m" => "a materialized view",
            "f" => "a foreign table",
            _ => "not a table",
        };
        return Err(cfg
            .error_at(
                &table_path,
                format!("`{schema}.{table}` is {what}; only tables can be sources"),
                "not a table",
            )
            .with_help("changes are read by logical replication, which publishes tables only"));
    }
    Ok(LockEntry {
        connection: name.clone(),
        server: target.server.clone(),
        schema: schema.to_string(),
        table: table.to_string(),
        columns,
        primary_key,
        replica_identity: match replica_identity.as_str() {
            "f" => "full",
            "n" => "nothing",
            "i" => "index",
            _ => "default",
        }
        .to_string(),
    })
}

/// The driver's message with its causes (a server error's own text rather than "db error").
fn driver_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = c.source();
    }
    message
}

type TableInfo = (String, String, Vec<LockColumn>, Vec<String>);

/// The relation's kind, replica identity, columns and primary key; `None` when it does not exist.
fn read_table(
    client: &mut Client,
    schema: &str,
    table: &str,
) -> Result<Option<TableInfo>, postgres::Error> {
    let rows = client.query(
        "SELECT c.oid, c.relkind::text, c.relreplident::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = $2",
        &[&schema, &table],
    )?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let oid: u32 = row.try_get(0)?;
    let kind: String = row.try_get(1)?;
    let replica_identity: String = row.try_get(2)?;
    let mut columns = Vec::new();
    for row in client.query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text, \
         a.attnotnull FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        &[&oid],
    )? {
        let typname: String = row.try_get(2)?;
        let not_null: bool = row.try_get(3)?;
        columns.push(LockColumn {
            name: row.try_get(0)?,
            ty: sql_type(&typname).map(|t| t.name().to_string()),
            pg_type: row.try_get(1)?,
            nullable: !not_null,
        });
    }
    let mut primary_key = Vec::new();
    for row in client.query(
        "SELECT a.attname::text FROM pg_index i \
         CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord",
        &[&oid],
    )? {
        primary_key.push(row.try_get(0)?);
    }
    Ok(Some((kind, replica_identity, columns, primary_key)))
}

/// Names of the tables in `schema`, sorted.
fn tables_in(client: &mut Client, schema: &str) -> Result<Vec<String>, postgres::Error> {
    client
        .query(
            "SELECT c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[&schema],
        )?
        .iter()
        .map(|row| row.try_get(0))
        .collect()
}
