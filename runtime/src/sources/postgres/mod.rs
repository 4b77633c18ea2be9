//! The Postgres source: an initial snapshot followed by logical replication (`pgoutput`), so a
//! pipeline sees every committed change of its tables exactly once, across restarts.
//!
//! # Why this is correct
//!
//! Postgres assigns every WAL record a position, the LSN. A transaction's effects become visible
//! atomically at its commit record; `Commit.end_lsn`, the position just after that record, is
//! the point from which a reader "has seen" the transaction. The argument has five steps.
//!
//! 1. **Consistent point.** `CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput (SNAPSHOT 'export')`
//!    returns an LSN `cp` (the *consistent point*) and the name of a snapshot. The slot will
//!    decode exactly the transactions that commit after `cp`; every transaction that committed
//!    before `cp` is visible in the exported snapshot and no later one is.
//! 2. **Snapshot at that point.** A second, ordinary session imports the snapshot
//!    (`BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '<name>'`)
//!    and reads the tables. The exported snapshot lives only until the creating replication
//!    session runs its next command, so the import happens before anything else is sent on it;
//!    once imported, the reading transaction keeps the snapshot for as long as it runs. The rows
//!    read are the state of the tables *at* `cp`, and they are delivered as inserts, with
//!    `end = Some(cp)` on the last snapshot batch.
//! 3. **Stream from it.** `START_REPLICATION SLOT <slot> LOGICAL <cp>` delivers, in commit order,
//!    every transaction committed after `cp` as `Begin .. changes .. Commit`. Snapshot + stream
//!    therefore covers every committed transaction once: those before `cp` through the snapshot,
//!    those after through the stream. Each streamed transaction is one [`PgBatch`] (several for
//!    large ones, all but the last with `end: None`) whose `end` is its `Commit.end_lsn`.
//! 4. **Acknowledge after commit.** The slot retains WAL from its `confirmed_flush_lsn` on. The
//!    source moves it only in [`PgSource::ack`], which the caller invokes after its own durable
//!    commit of the batch *and* of the position. A crash before that commit leaves the slot
//!    behind the caller's position, never ahead of it, so nothing the caller lacks is discarded
//!    by the server. When idle (no transaction open, every delivered batch acknowledged), the
//!    source also acknowledges the server's keepalive position: nothing of the publication
//!    commits at or below it that was not already delivered, so the slot does not pin WAL
//!    written by other databases' or tables' traffic.
//! 5. **Resume and skip.** On restart the caller passes its stored position `p` (the `end` of
//!    its last committed batch). Streaming restarts at `max(p, confirmed_flush_lsn)`, which may
//!    be *behind* `p` when the acknowledgement after the last commit never reached the server;
//!    so every transaction whose `end_lsn <= p` is skipped. Positions are record boundaries, so a
//!    transaction whose commit record starts before `p` (`Begin.final_lsn < p`) also ends at or
//!    before `p`: the decision is made at `Begin`, which lets large transactions be split.
//!
//! Consequences the caller must know: batches with `end: None` are part of a transaction and
//! must not be committed alone; the snapshot is one logical transaction (several batches). A
//! source whose slot is gone cannot resume (the server dropped the history): a re-snapshot is
//! the only way ([`PgSourceError::MissingSlot`]). `UPDATE` and `DELETE` carry the complete old
//! row, which requires `REPLICA IDENTITY FULL` (checked at open). Unchanged TOASTed columns are
//! absent from an update's new row and are taken from its old row. `TRUNCATE` cannot be
//! expressed as row changes and stops the source ([`PgSourceError::Truncate`]).
//!
//! Values arrive in Postgres' text output format and are parsed with [`Value::parse`] for the
//! declared field type; a value that does not parse is a [`PgSourceError::Decode`] naming
//! table, column and value, never skipped.
//!
//! [`Value::parse`]: crate::types::Value::parse

mod decode;
mod setup;
mod snapshot;
mod stream;

use crate::types::Value;

pub use super::pg_spec::{PgConnectionSpec, PgTableSpec};
pub use super::progress::{format_lsn, parse_lsn};

pub use stream::PgSource;

/// The largest number of changes in one [`PgBatch`].
pub const MAX_BATCH_ROWS: usize = 65_536;

/// A batch of changes of one source transaction. The snapshot may come in several batches; `end`
/// is `Some(position)` on the last batch of a transaction (the consistent point for the snapshot,
/// `Commit.end_lsn` for a streamed transaction).
#[derive(Debug)]
pub struct PgBatch {
    pub changes: Vec<PgChange>,
    pub end: Option<u64>,
}

/// One row change. Insert: `old` is `None`; delete: `new` is `None`; update: both.
#[derive(Clone, Debug, PartialEq)]
pub struct PgChange {
    /// Index into the table specs given to [`PgSource::open`].
    pub table: usize,
    pub old: Option<Vec<Value>>,
    pub new: Option<Vec<Value>>,
}

/// Everything that can go wrong in the Postgres source.
#[derive(Debug, thiserror::Error)]
pub enum PgSourceError {
    #[error("cannot connect to Postgres at {target}: {message}")]
    Connect { target: String, message: String },
    #[error("Postgres query failed while {context}: {message}")]
    Query {
        context: String,
        message: String,
        /// The connection broke or the server was unavailable (a retry may succeed).
        transient: bool,
    },
    #[error("table {table} does not exist in the database")]
    MissingTable { table: String },
    #[error("table {table} must have REPLICA IDENTITY FULL so updates and deletes carry the whole old row; run `{fix}`")]
    ReplicaIdentity { table: String, fix: String },
    #[error("replication slot `{slot}` does not exist, so the source cannot resume from its stored position; a re-snapshot is needed: restart the pipeline with --resnapshot")]
    MissingSlot { slot: String },
    #[error("`{slot}` is not a valid replication slot name (lower-case letters, digits and `_`, at most 63 characters)")]
    InvalidSlotName { slot: String },
    #[error("cannot decode column `{column}` of {table}: value `{value}`: {message}")]
    Decode {
        table: String,
        column: String,
        value: String,
        message: String,
    },
    #[error("the columns of {table} differ from the pipeline's: {message}; rebuild the pipeline (dozerc build) for the new schema")]
    SchemaChanged { table: String, message: String },
    #[error("TRUNCATE of {table} cannot be applied as row changes; a re-snapshot is needed: restart the pipeline with --resnapshot")]
    Truncate { table: String },
    #[error("logical replication failed: {0}")]
    Replication(String),
    #[error("the replication slot can no longer be used ({0}); a re-snapshot is needed: restart the pipeline with --resnapshot")]
    SlotLost(String),
    #[error("unexpected replication protocol state: {0}")]
    Protocol(String),
}

impl PgSourceError {
    /// Whether reconnecting may cure it: outages (the server restarting, the network dropping),
    /// not problems of schema, data or configuration, which need the user.
    pub fn is_transient(&self) -> bool {
        match self {
            PgSourceError::Connect { message, .. } | PgSourceError::Replication(message) => {
                !looks_permanent(message)
            }
            PgSourceError::Query { transient, .. } => *transient,
            _ => false,
        }
    }
}

/// What the server or the client says when reconnecting cannot help: credentials, missing
/// objects, privileges, server settings, certificates. Outages say other things (connection
/// refused or reset, the server starting up or shutting down).
const PERMANENT: [&str; 11] = [
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
    "must be superuser",
    "replication role",
    "wal_level",
    "certificate",
    "sslmode",
    "invalid configuration",
    "authentication failed",
];

fn looks_permanent(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    PERMANENT.iter().any(|p| message.contains(p))
}

/// Quotes an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."table"`.
fn quoted_table(spec: &PgTableSpec) -> String {
    format!("{}.{}", quote_ident(spec.schema), quote_ident(spec.table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_retried_but_configuration_problems_are_not() {
        let connect = |message: &str| PgSourceError::Connect {
            target: "h:5432/db".into(),
            message: message.into(),
        };
        assert!(
            connect("error connecting to server: Connection refused (os error 111)").is_transient()
        );
        assert!(
            PgSourceError::Replication("IO error: connection reset by peer".into()).is_transient()
        );
        for permanent in [
            "db error: FATAL: password authentication failed for user \"app\"",
            "db error: FATAL: database \"shop\" does not exist",
            "invalid peer certificate: UnknownIssuer",
            "ERROR: logical decoding requires wal_level >= logical",
        ] {
            assert!(!connect(permanent).is_transient(), "{permanent}");
        }
        assert!(!PgSourceError::SlotLost("invalidated".into()).is_transient());
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
