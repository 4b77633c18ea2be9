//! The APIs over the cache: REST (axum) with Dozer's routes and query language, the
//! OpenAPI document, and optional JWT security shared by every API ([`auth`]). gRPC comes later and will share [`EndpointApi`].

pub mod auth;
mod endpoint;
mod error;
mod filter;
#[cfg(test)]
pub(crate) mod fixtures;
mod openapi;
mod position;
mod query;
mod rest;
mod sort;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;
mod token;

pub use auth::Auth;
pub use endpoint::{EndpointApi, TypedEndpoint};
pub use error::ApiError;
pub use position::{POSITION_HEADER, WAIT_FOR_HEADER, WAIT_TIMEOUT_HEADER};
pub use query::{CmpOp, Filter, OrderBy, Query, DEFAULT_LIMIT, MAX_LIMIT};
pub use rest::{bind, router, serve, ApiState};

use crate::types::FieldDef;

/// What the generated crate declares about one endpoint.
#[derive(Clone, Copy, Debug)]
pub struct EndpointDecl {
    /// `endpoints[].name`.
    pub name: &'static str,
    /// `endpoints[].path`, starting with `/`.
    pub path: &'static str,
    /// The result table served.
    pub table_name: &'static str,
    /// The table's columns.
    pub fields: &'static [FieldDef],
    /// Names of the primary key columns (empty when the key is a hidden record id).
    pub primary_key: &'static [&'static str],
}
