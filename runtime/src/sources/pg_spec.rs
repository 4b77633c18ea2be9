//! What a generated pipeline declares about its Postgres sources. Always compiled (unlike the
//! connector itself, feature `postgres`), so generated code can name them either way.

use crate::types::FieldDef;

/// One Postgres table a pipeline reads.
#[derive(Clone, Debug)]
pub struct PgTableSpec {
    /// The pipeline's source name (for messages).
    pub source: &'static str,
    pub schema: &'static str,
    pub table: &'static str,
    /// The columns read, in record order (names as in Postgres).
    pub fields: &'static [FieldDef],
}

impl PgTableSpec {
    /// `schema.table` as written in messages.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

/// Where and as whom to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConnectionSpec {
    /// The connection's name in the config (names the replication slot and messages).
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    /// libpq's `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`).
    pub ssl_mode: String,
}
