//! Connections and the server-side objects the source needs: the publication, the table checks
//! (existence, columns, `REPLICA IDENTITY FULL`, primary key) and the replication slot.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

use crate::sources::pg_tls::{self, SslMode};

use super::{decode, quote_ident, quoted_table, PgConnectionSpec, PgSourceError, PgTableSpec};

/// How long to wait for a previous session to release the slot.
const SLOT_RELEASE_TIMEOUT: Duration = Duration::from_secs(15);

pub(super) fn target(conn: &PgConnectionSpec) -> String {
    format!("{}:{}/{}", conn.host, conn.port, conn.database)
}

pub(super) fn query_error(
    context: impl Into<String>,
) -> impl FnOnce(tokio_postgres::Error) -> PgSourceError {
    let context = context.into();
    move |e| PgSourceError::Query {
        context,
        transient: is_transient(&e),
        message: match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        },
    }
}

/// Whether a failed query may succeed when retried on a new connection: the connection broke,
/// or the server is shutting down, starting up or out of resources (SQLSTATE classes 08, 57
/// except statement timeouts, 53), not a problem with the query or the data.
fn is_transient(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            // 57014: a statement timeout or cancel, which a retry would meet again.
            code != "57014"
                && ["08", "57", "53"]
                    .iter()
                    .any(|class| code.starts_with(class))
        }
        None => true,
    }
}

/// An ordinary (SQL) session, over TLS as `conn.ssl_mode` says.
pub(super) async fn connect(conn: &PgConnectionSpec) -> Result<Client, PgSourceError> {
    let mode = ssl_mode(conn)?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&conn.host)
        .port(conn.port)
        .user(&conn.user)
        .dbname(&conn.database)
        .application_name("dozer-postgres-source")
        .ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
    if let Some(password) = &conn.password {
        config.password(password);
    }
    let connect_error = |message: String| PgSourceError::Connect {
        target: target(conn),
        message,
    };
    // The session's connection task has a different type with and without TLS.
    let client = if mode == SslMode::Disable {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        tokio::spawn(drive(connection));
        client
    } else {
        let (client, connection) = config
            .connect(pg_tls::connector(mode).map_err(connect_error)?)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        tokio::spawn(drive(connection));
        client
    };
    Ok(client)
}

/// Runs a session's connection until it closes.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::debug!("postgres source connection closed: {e}");
    }
}

fn ssl_mode(conn: &PgConnectionSpec) -> Result<SslMode, PgSourceError> {
    SslMode::parse(&conn.ssl_mode).ok_or_else(|| PgSourceError::Connect {
        target: target(conn),
        message: format!(
            "sslmode `{}` is not one of {}",
            conn.ssl_mode,
            SslMode::NAMES
        ),
    })
}

/// Percent-encodes a URL component.
fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The connection string of a logical replication session (`replication=database`).
pub(super) fn replication_url(conn: &PgConnectionSpec) -> String {
    let auth = match &conn.password {
        Some(p) => format!("{}:{}", url_part(&conn.user), url_part(p)),
        None => url_part(&conn.user),
    };
    // The replication client implements the same sslmode meanings itself.
    let mode = SslMode::parse(&conn.ssl_mode).unwrap_or(SslMode::Prefer);
    format!(
        "postgresql://{auth}@{}:{}/{}?replication=database&sslmode={}",
        conn.host,
        conn.port,
        url_part(&conn.database),
        mode.as_str()
    )
}

pub(super) fn check_slot_name(slot: &str) -> Result<(), PgSourceError> {
    let ok = !slot.is_empty()
        && slot.len() <= 63
        && slot
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(PgSourceError::InvalidSlotName {
            slot: slot.to_string(),
        })
    }
}

/// Checks one table and returns the positions (into its fields) of its primary key, if it has
/// one and every key column is read.
pub(super) async fn check_table(
    client: &Client,
    spec: &PgTableSpec,
) -> Result<Option<Vec<usize>>, PgSourceError> {
    let name = spec.qualified_name();
    let row = client
        .query_opt(
            "SELECT c.oid::int8, c.relreplident::text FROM pg_class c \
             WHERE c.oid = to_regclass($1)",
            &[&quoted_table(spec)],
        )
        .await
        .map_err(query_error(format!("looking up {name}")))?;
    let Some(row) = row else {
        return Err(PgSourceError::MissingTable { table: name });
    };
    let oid: i64 = row
        .try_get(0)
        .map_err(query_error(format!("reading {name}")))?;
    let identity: String = row
        .try_get(1)
        .map_err(query_error(format!("reading {name}")))?;

    let columns = client
        .query(
            "SELECT attname::text, atttypid::int8 FROM pg_attribute \
             WHERE attrelid = $1::int8::oid AND attnum > 0 AND NOT attisdropped",
            &[&oid],
        )
        .await
        .map_err(query_error(format!("reading the columns of {name}")))?;
    let mut pairs = Vec::with_capacity(columns.len());
    for c in &columns {
        let column: String = c.try_get(0).map_err(query_error("reading columns"))?;
        let type_oid: i64 = c.try_get(1).map_err(query_error("reading columns"))?;
        pairs.push((column, u32::try_from(type_oid).unwrap_or(0)));
    }
    decode::check_columns(spec, pairs.iter().map(|(n, t)| (n.as_str(), *t)))?;

    if identity != "f" {
        return Err(PgSourceError::ReplicaIdentity {
            fix: format!("ALTER TABLE {name} REPLICA IDENTITY FULL;"),
            table: name,
        });
    }

    let keys = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1::int8::oid AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&oid],
        )
        .await
        .map_err(query_error(format!("reading the primary key of {name}")))?;
    let mut key = Vec::with_capacity(keys.len());
    for k in &keys {
        let column: String = k
            .try_get(0)
            .map_err(query_error("reading the primary key"))?;
        match spec.fields.iter().position(|f| f.name == column) {
            Some(position) => key.push(position),
            None => return Ok(None),
        }
    }
    Ok((!key.is_empty()).then_some(key))
}

/// Creates publication `<slot>_pub` for the tables, or adds the tables it lacks.
pub(super) async fn ensure_publication(
    client: &Client,
    publication: &str,
    tables: &[PgTableSpec],
) -> Result<(), PgSourceError> {
    let context = format!("preparing publication {publication}");
    let present = client
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1",
            &[&publication],
        )
        .await
        .map_err(query_error(&context))?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_publication WHERE pubname = $1",
            &[&publication],
        )
        .await
        .map_err(query_error(&context))?
        .is_some();
    let mut missing = Vec::new();
    for spec in tables {
        let listed = present.iter().any(|r| {
            r.try_get::<_, String>(0).ok().as_deref() == Some(spec.schema)
                && r.try_get::<_, String>(1).ok().as_deref() == Some(spec.table)
        });
        let name = quoted_table(spec);
        if !listed && !missing.contains(&name) {
            missing.push(name);
        }
    }
    let sql = match (exists, missing.is_empty()) {
        (false, _) => format!(
            "CREATE PUBLICATION {} FOR TABLE {}",
            quote_ident(publication),
            missing.join(", ")
        ),
        (true, false) => format!(
            "ALTER PUBLICATION {} ADD TABLE {}",
            quote_ident(publication),
            missing.join(", ")
        ),
        (true, true) => return Ok(()),
    };
    client
        .batch_execute(&sql)
        .await
        .map_err(query_error(context))
}

/// Whether the slot exists in this database.
pub(super) async fn slot_exists(client: &Client, slot: &str) -> Result<bool, PgSourceError> {
    let row = client
        .query_opt(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()",
            &[&slot],
        )
        .await
        .map_err(query_error(format!("looking up slot {slot}")))?;
    Ok(row.is_some())
}

/// Drops the slot if it exists, first ending a session that still holds it.
pub(super) async fn drop_slot(client: &Client, slot: &str) -> Result<(), PgSourceError> {
    let context = format!("dropping the stale slot {slot}");
    let deadline = Instant::now() + SLOT_RELEASE_TIMEOUT;
    loop {
        let row = client
            .query_opt(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .map_err(query_error(&context))?;
        let Some(row) = row else { return Ok(()) };
        let pid: Option<i32> = row.try_get(0).map_err(query_error(&context))?;
        let result = match pid {
            Some(pid) => client
                .execute("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .map(|_| ()),
            None => client
                .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            if Instant::now() > deadline {
                return Err(query_error(context)(e));
            }
        }
        if Instant::now() > deadline {
            return Err(PgSourceError::Query {
                context,
                transient: true,
                message: "the slot is still in use".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The planner's estimate of how many rows the tables hold (`pg_class.reltuples`), for snapshot
/// progress; `None` when a table was never analyzed.
pub(super) async fn estimated_rows(client: &Client, tables: &[PgTableSpec]) -> Option<u64> {
    let mut total = 0u64;
    for spec in tables {
        let row = client
            .query_one(
                "SELECT reltuples::float8 FROM pg_class WHERE oid = $1::text::regclass",
                &[&quoted_table(spec)],
            )
            .await
            .ok()?;
        let estimate: f64 = row.try_get(0).ok()?;
        if estimate < 0.0 {
            return None;
        }
        total += estimate as u64;
    }
    Some(total)
}

/// Waits until no session holds the slot (a dropped replication session takes a moment to end).
pub(super) async fn wait_slot_released(client: &Client, slot: &str) -> Result<(), PgSourceError> {
    let deadline = Instant::now() + SLOT_RELEASE_TIMEOUT;
    loop {
        let row = client
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .map_err(query_error(format!("looking up slot {slot}")))?;
        let active = match row {
            Some(row) => row.try_get::<_, bool>(0).unwrap_or(false),
            None => {
                return Err(PgSourceError::MissingSlot {
                    slot: slot.to_string(),
                })
            }
        };
        if !active {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(PgSourceError::Replication(format!(
                "replication slot {slot} is still in use by another session"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_urls_escape_credentials() {
        let conn = PgConnectionSpec {
            name: "test".into(),
            host: "127.0.0.1".into(),
            port: 5432,
            user: "u@x".into(),
            password: Some("p/w:1".into()),
            database: "my db".into(),
            ssl_mode: "require".into(),
        };
        assert_eq!(
            replication_url(&conn),
            "postgresql://u%40x:p%2Fw%3A1@127.0.0.1:5432/my%20db?replication=database&sslmode=require"
        );
    }

    #[test]
    fn slot_names_are_checked() {
        assert!(check_slot_name("dozer_orders_1").is_ok());
        assert!(check_slot_name("Bad-Name").is_err());
        assert!(check_slot_name("").is_err());
    }
}
