//! The Postgres side of `ecommerce-datagen postgres`: connecting (and creating
//! the database on request), creating `public.sales_data` and loading rows
//! into it with COPY.
//!
//! The rows go through the same CSV writer as the CSV files
//! ([`crate::output::write_csv`]) into `COPY ... FROM STDIN (FORMAT csv)`, so
//! `--rows N --seed S` loads exactly the lines the CSV mode would write.

use crate::generator::Generator;
use crate::output::write_csv;
use postgres::config::Host;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};
use std::time::Duration;

/// The table the example's Postgres config reads.
pub const TABLE: &str = "public.sales_data";
/// `--url` when none is given: the server the Postgres config points at.
pub const DEFAULT_URL: &str = "host=127.0.0.1 port=5432 user=postgres dbname=ecommerce";
/// So a wrong host fails in seconds instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `id` keys the rows for updates and deletes; the other columns are the CSV's.
/// REPLICA IDENTITY FULL makes updates and deletes carry the whole old row in
/// the replication stream, which the pipeline needs to take the old values out
/// of their groups' sums.
const CREATE_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS public.sales_data (
        id bigserial PRIMARY KEY,
        invoiceno text NOT NULL,
        stockcode text NOT NULL,
        description text,
        quantity integer NOT NULL,
        invoicedate timestamp NOT NULL,
        unitprice numeric(12,2) NOT NULL,
        customerid integer,
        country text NOT NULL
    );
    ALTER TABLE public.sales_data REPLICA IDENTITY FULL;";

/// Columns in the CSV header's order; an empty unquoted field is NULL.
const COPY_IN: &str = "COPY public.sales_data \
    (invoiceno, stockcode, description, quantity, invoicedate, unitprice, customerid, country) \
    FROM STDIN WITH (FORMAT csv, HEADER true)";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "--url is not a Postgres connection string; write it as \
         `host=127.0.0.1 port=5432 user=postgres dbname=ecommerce` or \
         postgresql://postgres@127.0.0.1:5432/ecommerce"
    )]
    BadUrl { source: postgres::Error },
    #[error("--url names no database; add dbname=ecommerce (or /ecommerce to a URL)")]
    NoDatabase,
    #[error(
        "database `{database}` does not exist on {server}; pass --create-database to create it"
    )]
    MissingDatabase { database: String, server: String },
    #[error(
        "cannot connect to Postgres at {server}: check that the server is running there and \
         accepts this user (pass --create-database if the database does not exist yet)"
    )]
    Connect {
        server: String,
        source: postgres::Error,
    },
    #[error("{action} failed")]
    Sql {
        action: String,
        source: postgres::Error,
    },
}

/// Wraps a failed statement with what was being done.
pub fn sql_error(action: impl Into<String>) -> impl FnOnce(postgres::Error) -> DbError {
    let action = action.into();
    move |source| DbError::Sql { action, source }
}

/// A parsed `--url`, with a description for messages (never the password).
pub struct Target {
    config: Config,
    /// `host:port/database as user`.
    pub server: String,
    pub database: String,
}

impl Target {
    /// Accepts `key=value` pairs or a `postgresql://` URL, as libpq does.
    pub fn parse(url: &str) -> Result<Target, DbError> {
        // The URL is never echoed back: it may hold a password.
        let mut config: Config = url.parse().map_err(|source| DbError::BadUrl { source })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // Postgres would default it to the user's name; this tool is about one database.
        let Some(database) = config.get_dbname().map(str::to_string) else {
            return Err(DbError::NoDatabase);
        };
        let server = describe(&config);
        Ok(Target {
            config,
            server,
            database,
        })
    }

    /// A client on the target database.
    pub fn connect(&self) -> Result<Client, DbError> {
        self.config.connect(NoTls).map_err(|source| {
            if source.code() == Some(&SqlState::INVALID_CATALOG_NAME) {
                DbError::MissingDatabase {
                    database: self.database.clone(),
                    server: self.server.clone(),
                }
            } else {
                DbError::Connect {
                    server: self.server.clone(),
                    source,
                }
            }
        })
    }

    /// Creates the target database unless it exists, connected to the
    /// `postgres` maintenance database. Returns whether it created it.
    pub fn create_database_if_missing(&self) -> Result<bool, DbError> {
        let mut config = self.config.clone();
        config.dbname("postgres");
        let mut client = config.connect(NoTls).map_err(|source| DbError::Connect {
            server: describe(&config),
            source,
        })?;
        let exists = client
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname = $1",
                &[&self.database],
            )
            .map_err(sql_error("looking up the database"))?
            .is_some();
        if exists {
            return Ok(false);
        }
        let create = format!("CREATE DATABASE {}", quote_ident(&self.database));
        match client.batch_execute(&create) {
            Ok(()) => Ok(true),
            // Someone else created it in between: just as good.
            Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(false),
            Err(source) => Err(DbError::Sql {
                action: format!("creating database `{}`", self.database),
                source,
            }),
        }
    }
}

/// `host:port/database as user`, for messages.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or_default();
    // Without `user`, the client logs in as the OS user.
    let user = config.get_user().unwrap_or("the OS user");
    format!("{host}:{port}/{database} as {user}")
}

/// `name` as a quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates `public.sales_data` if missing and sets its replica identity.
pub fn prepare_table(client: &mut Client) -> Result<(), DbError> {
    client
        .batch_execute(CREATE_TABLE)
        .map_err(sql_error(format!("creating table {TABLE}")))
}

/// Appends `rows` lines from `gen` to the table in one COPY (one transaction:
/// an error or Ctrl-C leaves the table as it was). Returns the rows copied.
pub fn load_rows(client: &mut Client, gen: &mut Generator<'_>, rows: u64) -> anyhow::Result<u64> {
    let action = || format!("loading rows into {TABLE} (COPY)");
    let writer = client.copy_in(COPY_IN).map_err(sql_error(action()))?;
    // Errors from the server surface as I/O errors of the writer, or at `finish`.
    let writer = write_csv(gen, rows, writer).map_err(|e| e.context(action()))?;
    let copied = writer.finish().map_err(sql_error(action()))?;
    Ok(copied)
}

/// Every id in the table, sorted (so the change mix sees them in a fixed order).
pub fn live_ids(client: &mut Client) -> Result<Vec<i64>, DbError> {
    let action = || format!("reading the ids of {TABLE}");
    let mut rows = client
        .query_raw(
            "SELECT id FROM public.sales_data ORDER BY id",
            std::iter::empty::<i64>(),
        )
        .map_err(sql_error(action()))?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error(action()))? {
        ids.push(row.try_get(0).map_err(sql_error(action()))?);
    }
    Ok(ids)
}
