//! Postgres as the reference engine (GUIDE §3): load the same rows, run the same SELECT,
//! compare with what an endpoint serves.

use postgres::{Client, NoTls};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A database of the test's own, dropped at the end.
pub struct Oracle {
    pub client: Client,
    name: String,
}

fn admin() -> anyhow::Result<Client> {
    let url = std::env::var("DOZER_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into());
    Ok(Client::connect(&url, NoTls)?)
}

impl Oracle {
    /// Creates database `dozer_<tag>_<pid>` (dropping a leftover of the same name).
    pub fn new(tag: &str) -> anyhow::Result<Oracle> {
        let name = format!("dozer_{tag}_{}", std::process::id());
        let mut admin = admin()?;
        // Two round trips: CREATE DATABASE cannot share an implicit transaction.
        let pg = |e: postgres::Error| anyhow::anyhow!("Postgres: {}", describe(&e));
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .map_err(pg)?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(pg)?;
        let url = std::env::var("DOZER_TEST_PG")
            .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres".into());
        let client = Client::connect(&format!("{url} dbname={name}"), NoTls)?;
        Ok(Oracle { client, name })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Another session on the database.
    pub fn connect(&self) -> anyhow::Result<Client> {
        let url = std::env::var("DOZER_TEST_PG")
            .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres".into());
        Ok(Client::connect(
            &format!("{url} dbname={}", self.name),
            NoTls,
        )?)
    }

    /// Loads a CSV file (with header) into `table` with COPY.
    pub fn copy_csv(&mut self, table: &str, file: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        let data = std::fs::read(file)?;
        let pg =
            |e: postgres::Error| anyhow::anyhow!("Postgres COPY into {table}: {}", describe(&e));
        let mut writer = self
            .client
            .copy_in(&format!(
                "COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)"
            ))
            .map_err(pg)?;
        writer.write_all(&data)?;
        writer.finish().map_err(pg)?;
        Ok(())
    }

    /// Runs `sql` and returns its rows as column-name → text (NULL as None), every value cast
    /// to text by Postgres itself.
    pub fn rows(&mut self, sql: &str) -> anyhow::Result<Vec<BTreeMap<String, Option<String>>>> {
        self.try_rows(sql)
            .map_err(|e| anyhow::anyhow!("Postgres failed on `{sql}`: {}", describe(&e)))
    }

    fn try_rows(
        &mut self,
        sql: &str,
    ) -> Result<Vec<BTreeMap<String, Option<String>>>, postgres::Error> {
        let statement = self.client.prepare(sql)?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let select = columns
            .iter()
            .map(|c| format!("q.\"{c}\"::text AS \"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let wrapped = format!("SELECT {select} FROM ({sql}) q");
        let rows = self.client.query(&wrapped, &[])?;
        Ok(rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.to_lowercase(), row.get::<_, Option<String>>(i)))
                    .collect()
            })
            .collect())
    }
}

/// The server's message, not just "db error".
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let Ok(mut admin) = admin() else { return };
        // Replication slots pin a database: end their sessions and drop them first (a session
        // takes a moment to end after it is terminated).
        for _ in 0..50 {
            let _ = admin.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots \
                 WHERE database = $1 AND active_pid IS NOT NULL",
                &[&self.name],
            );
            let dropped = admin.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                 WHERE database = $1",
                &[&self.name],
            );
            let left = admin
                .query_one(
                    "SELECT count(*) FROM pg_replication_slots WHERE database = $1",
                    &[&self.name],
                )
                .map(|row| row.get::<_, i64>(0))
                .unwrap_or(0);
            if dropped.is_ok() && left == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// A value in a form both sides agree on: decimals normalised, everything else as text.
///
/// Decimals compare exactly up to 12 fractional digits: Postgres and rust_decimal carry a
/// different number of digits for non-terminating quotients (AVG, `/`), never for sums and
/// products. Timestamps compare as `YYYY-MM-DD HH:MM:SS[.f]` UTC.
fn canonical(text: Option<String>) -> String {
    match text {
        None => "NULL".to_string(),
        Some(t) => match t.parse::<Decimal>() {
            Ok(d) => d.round_dp(12).normalize().to_string(),
            Err(_) => canonical_timestamp(&t).unwrap_or(t),
        },
    }
}

fn canonical_timestamp(t: &str) -> Option<String> {
    let bytes = t.as_bytes();
    let looks_like = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b' ')
        && bytes[13] == b':';
    looks_like.then(|| {
        let mut s = t.replacen('T', " ", 1);
        for suffix in ["Z", "+00:00", "+00"] {
            if let Some(stripped) = s.strip_suffix(suffix) {
                s = stripped.to_string();
            }
        }
        s
    })
}

fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Sorted canonical rows (lower-cased column names) from an endpoint's JSON objects.
pub fn canonical_endpoint_rows(rows: &[Value]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = rows
        .iter()
        .map(|row| {
            let mut cols: Vec<(String, String)> = row
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.to_lowercase(), canonical(json_text(v))))
                        .collect()
                })
                .unwrap_or_default();
            cols.sort();
            cols
        })
        .collect();
    out.sort();
    out
}

/// Sorted canonical rows from Postgres.
pub fn canonical_oracle_rows(
    rows: Vec<BTreeMap<String, Option<String>>>,
) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = rows
        .into_iter()
        .map(|row| row.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        .collect();
    out.sort();
    out
}

/// Compares an endpoint with Postgres' answer; the error lists the first differences.
pub fn assert_same(
    what: &str,
    endpoint: &[Value],
    expected: Vec<BTreeMap<String, Option<String>>>,
) -> anyhow::Result<()> {
    let ours = canonical_endpoint_rows(endpoint);
    let theirs = canonical_oracle_rows(expected);
    if ours == theirs {
        return Ok(());
    }
    let missing: Vec<_> = theirs
        .iter()
        .filter(|r| !ours.contains(r))
        .take(5)
        .collect();
    let extra: Vec<_> = ours
        .iter()
        .filter(|r| !theirs.contains(r))
        .take(5)
        .collect();
    anyhow::bail!(
        "{what}: endpoint has {} rows, Postgres {}.\nmissing (first 5): {missing:?}\nunexpected (first 5): {extra:?}",
        ours.len(),
        theirs.len()
    )
}
