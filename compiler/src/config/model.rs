//! The serde model of the subset of Dozer's `dozer-config.yaml` that dozerc
//! compiles.
//!
//! Every struct denies unknown fields: a Dozer option we do not implement
//! must be an error pointing at the key, never a silently ignored setting.
//! Connection and table kinds are YAML tags (`!Postgres`, `!LocalStorage`,
//! `!Table`, `!CSV`), which serde_norway maps to externally tagged enums.

use indexmap::IndexMap;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the application; also the generated crate's name.
    pub app_name: String,
    /// Dozer's config format version (1 for the seed apps).
    pub version: Option<u32>,
    /// Dozer's state directory, relative to the config file (default `.dozer`).
    pub home_dir: Option<String>,
    /// Dozer's cache directory, relative to the config file.
    pub cache_dir: Option<String>,
    /// Where data comes from.
    #[serde(default)]
    pub connections: Vec<Connection>,
    /// Tables read from the connections, by name.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// The streaming SQL (one or more `SELECT ... INTO ...` statements).
    pub sql: Option<String>,
    /// REST endpoints serving the SQL's output tables.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Ports and hosts of the APIs.
    #[serde(default)]
    pub api: ApiConfig,
}

/// A named connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub name: String,
    pub config: ConnectionConfig,
}

/// The kind of a connection, chosen by its YAML tag.
#[derive(Debug, Clone, Deserialize)]
pub enum ConnectionConfig {
    /// `!Postgres`
    Postgres(PostgresConfig),
    /// `!LocalStorage`
    LocalStorage(LocalStorageConfig),
}

/// Dozer's Postgres connection options, as the seed writes them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub sslmode: Option<String>,
    pub connection_url: Option<String>,
}

/// Files in a local directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalStorageConfig {
    pub details: LocalDetails,
    pub tables: Vec<LocalTable>,
}

/// Where the local files live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalDetails {
    /// Directory, relative to the config file unless absolute.
    pub path: String,
}

/// One table of a local storage connection (`- !Table`).
#[derive(Debug, Clone, Deserialize)]
pub enum LocalTable {
    /// `!Table`
    Table(TableSpec),
}

impl LocalTable {
    /// The table's spec (there is only one kind today).
    pub fn spec(&self) -> &TableSpec {
        match self {
            LocalTable::Table(spec) => spec,
        }
    }
}

/// A named table and its file format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub name: String,
    pub config: TableFormat,
}

/// File format of a table, chosen by its YAML tag. Dozer's `!Parquet` and
/// `!Delta` are rejected at load time with a "not supported yet" error.
#[derive(Debug, Clone, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum TableFormat {
    /// `!CSV`
    CSV(CsvTable),
}

/// CSV files: every file under `path` whose name ends with `extension`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvTable {
    /// Directory (or file prefix) relative to the connection's `details.path`.
    pub path: String,
    /// File name suffix to pick up; [`CsvTable::extension`] gives the default.
    pub extension: Option<String>,
    /// Column name -> Dozer type name, in column order. Columns not listed
    /// are inferred by the runtime; names are checked by validation.
    pub schema: Option<IndexMap<String, String>>,
    /// Dozer's marker-file suffix. Accepted so Dozer configs load unchanged,
    /// and kept in the model, but dozerc does not act on it.
    pub marker_extension: Option<String>,
}

impl CsvTable {
    /// The file extension, `.csv` when not given.
    pub fn extension(&self) -> &str {
        self.extension.as_deref().unwrap_or(".csv")
    }
}

/// A table read from a connection, under a name the SQL can use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The name the SQL refers to.
    pub name: String,
    /// The table's name inside the connection.
    pub table_name: String,
    /// The connection's name.
    pub connection: String,
    /// Columns to keep (all when absent).
    pub columns: Option<Vec<String>>,
    /// Database schema (Postgres), e.g. `public`.
    pub schema: Option<String>,
}

/// A REST endpoint serving one output table of the SQL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    /// URL path, e.g. `/clv`.
    pub path: String,
    /// The SQL output table (`INTO` name) served; checked by the SQL compiler.
    pub table_name: String,
    pub index: Option<EndpointIndex>,
}

/// Indexes of an endpoint's cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointIndex {
    /// Columns of the primary key, in order.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Secondary indexes (Dozer's format). Without it, every column of an indexable type
    /// gets a single-column index.
    #[serde(default)]
    pub secondary: Option<SecondaryIndexes>,
}

/// `index.secondary`: which default indexes to skip and which indexes to add.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryIndexes {
    /// Columns that get no default single-column index.
    #[serde(default)]
    pub skip_default: Vec<String>,
    /// Indexes declared in addition to the defaults.
    #[serde(default)]
    pub create: Vec<CreateIndex>,
}

/// One entry of `index.secondary.create`: `- index: !SortedInverted { fields: [...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIndex {
    pub index: IndexKind,
}

/// The kind of a declared index, chosen by its YAML tag.
#[derive(Debug, Clone, Deserialize)]
pub enum IndexKind {
    /// `!SortedInverted`: ordered by `fields`, in order (equality and range filters on a
    /// prefix of them, and sorting by them).
    SortedInverted(SortedInvertedIndex),
    /// `!FullText`: refused when the endpoint is bound (not supported yet).
    FullText(FullTextIndex),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortedInvertedIndex {
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullTextIndex {
    pub field: String,
}

/// Ports and hosts of the APIs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    #[serde(default)]
    pub rest: RestConfig,
    #[serde(default)]
    pub grpc: GrpcConfig,
    /// `api_security: !Jwt <secret>`: both APIs require bearer tokens signed with the secret.
    pub api_security: Option<ApiSecurity>,
}

/// How the APIs are secured, chosen by its YAML tag (Dozer's `ApiSecurity`).
#[derive(Clone, Deserialize)]
pub enum ApiSecurity {
    /// `!Jwt <secret>`: HS256 tokens signed with this secret.
    Jwt(String),
}

impl std::fmt::Debug for ApiSecurity {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiSecurity::Jwt(_) => f.write_str("Jwt(<redacted>)"),
        }
    }
}

impl ApiSecurity {
    /// The JWT secret.
    pub fn jwt_secret(&self) -> &str {
        match self {
            ApiSecurity::Jwt(secret) => secret,
        }
    }
}

/// The REST API's listening address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Default 8080.
    pub port: u16,
    /// Default `0.0.0.0`.
    pub host: String,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            port: 8080,
            host: "0.0.0.0".to_string(),
        }
    }
}

/// The gRPC API's listening address (kept for Dozer compatibility and
/// port-clash checks).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    /// Default 50051.
    pub port: u16,
    /// Default `0.0.0.0`.
    pub host: String,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            port: 50051,
            host: "0.0.0.0".to_string(),
        }
    }
}
