//! Source positions in the API: every response says how far the pipeline had got
//! (`x-dozer-position`), and a request may wait until a position is applied (read-your-writes).
//!
//! `x-dozer-position: 42 sales_db=0/1A2B3C40` is the number of source transactions committed,
//! then, per Postgres connection, the LSN up to which every change is visible. A writer that
//! committed at LSN `L` (for example `SELECT pg_current_wal_insert_lsn()` after its commit,
//! which also covers commits made with `synchronous_commit = off`) sends
//! `x-dozer-wait-for: L` (or `sales_db=L`, required when there are several connections) and
//! gets an answer that includes its write, or 504 after `x-dozer-wait-timeout-ms`
//! (default 10 s, at most 60 s).

use super::ApiError;
use crate::cache::Store;
use crate::sources::{format_lsn, parse_lsn, LsnProgress};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// The header holding the position a response reflects.
pub const POSITION_HEADER: HeaderName = HeaderName::from_static("x-dozer-position");
/// The request header naming positions to wait for.
pub const WAIT_FOR_HEADER: HeaderName = HeaderName::from_static("x-dozer-wait-for");
/// How long to wait, in milliseconds.
pub const WAIT_TIMEOUT_HEADER: HeaderName = HeaderName::from_static("x-dozer-wait-timeout-ms");

const DEFAULT_WAIT: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Where the positions come from.
#[derive(Clone)]
pub struct Positions {
    pub store: Store,
    /// Per Postgres connection: its name and progress.
    pub connections: Arc<[(String, Arc<LsnProgress>)]>,
}

impl Positions {
    /// The value of `x-dozer-position` now. Connection positions are read before the commit
    /// count, and both only move forward, so a snapshot taken afterwards reflects at least both.
    fn current(&self) -> Result<String, ApiError> {
        let lsns: Vec<String> = self
            .connections
            .iter()
            .map(|(name, progress)| format!("{name}={}", format_lsn(progress.applied())))
            .collect();
        let mut value = self.store.position()?.to_string();
        for lsn in lsns {
            value.push(' ');
            value.push_str(&lsn);
        }
        Ok(value)
    }

    /// Parses `x-dozer-wait-for`: comma-separated `LSN` or `connection=LSN`.
    fn targets(&self, header: &str) -> Result<Vec<(Arc<LsnProgress>, u64)>, ApiError> {
        let mut targets = Vec::new();
        for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, lsn) = match part.split_once('=') {
                Some((name, lsn)) => (Some(name.trim()), lsn.trim()),
                None => (None, part),
            };
            let lsn = parse_lsn(lsn).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{WAIT_FOR_HEADER}: `{lsn}` is not a Postgres LSN (like 0/1A2B3C40)"
                ))
            })?;
            let progress = match name {
                Some(name) => self.connection(name)?,
                None if self.connections.len() == 1 => self.connections[0].1.clone(),
                None => {
                    return Err(ApiError::bad_request(format!(
                        "{WAIT_FOR_HEADER}: {}; write it as CONNECTION=LSN",
                        self.describe_connections()
                    )))
                }
            };
            targets.push((progress, lsn));
        }
        if targets.is_empty() {
            return Err(ApiError::bad_request(format!(
                "{WAIT_FOR_HEADER} is empty; give an LSN like 0/1A2B3C40"
            )));
        }
        Ok(targets)
    }

    fn connection(&self, name: &str) -> Result<Arc<LsnProgress>, ApiError> {
        self.connections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{WAIT_FOR_HEADER}: no Postgres connection `{name}`; {}",
                    self.describe_connections()
                ))
            })
    }

    fn describe_connections(&self) -> String {
        match self.connections.len() {
            0 => "this pipeline reads no Postgres connection".to_string(),
            _ => format!(
                "its Postgres connections are {}",
                self.connections
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn wait_timeout(request: &Request) -> Result<Duration, ApiError> {
    let Some(value) = request.headers().get(WAIT_TIMEOUT_HEADER) else {
        return Ok(DEFAULT_WAIT);
    };
    let ms: u64 = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{WAIT_TIMEOUT_HEADER}: expected a number of milliseconds"
            ))
        })?;
    let wait = Duration::from_millis(ms);
    if wait > MAX_WAIT {
        return Err(ApiError::bad_request(format!(
            "{WAIT_TIMEOUT_HEADER}: at most {} ms",
            MAX_WAIT.as_millis()
        )));
    }
    Ok(wait)
}

/// Waits for `x-dozer-wait-for` (if sent), runs the request, adds `x-dozer-position`.
pub(super) async fn position_layer(
    State(positions): State<Positions>,
    request: Request,
    next: Next,
) -> Response {
    // Parsed before awaiting: a request is not `Sync`, so no reference to it may be held
    // across an await.
    let wait = wait_targets(&positions, &request);
    let waited = match wait {
        Ok(Some((header, targets, timeout))) => wait_for(header, targets, timeout).await,
        Ok(None) => Ok(()),
        Err(error) => Err(error),
    };
    if let Err(error) = waited {
        return with_position(&positions, error.into_response());
    }
    let position = positions.current();
    let response = next.run(request).await;
    match position {
        Ok(position) => set_position(response, &position),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the commit position");
            response
        }
    }
}

type WaitTargets = (String, Vec<(Arc<LsnProgress>, u64)>, Duration);

fn wait_targets(positions: &Positions, request: &Request) -> Result<Option<WaitTargets>, ApiError> {
    let Some(header) = request.headers().get(WAIT_FOR_HEADER) else {
        return Ok(None);
    };
    let header = header
        .to_str()
        .map_err(|_| ApiError::bad_request(format!("{WAIT_FOR_HEADER} is not plain text")))?;
    let targets = positions.targets(header)?;
    Ok(Some((header.to_string(), targets, wait_timeout(request)?)))
}

async fn wait_for(
    header: String,
    targets: Vec<(Arc<LsnProgress>, u64)>,
    timeout: Duration,
) -> Result<(), ApiError> {
    let all = async {
        for (progress, lsn) in &targets {
            progress.wait_applied(*lsn).await;
        }
    };
    tokio::time::timeout(timeout, all).await.map_err(|_| {
        ApiError::Timeout(format!(
            "{header} was not applied within {} ms; see {POSITION_HEADER} for how far the pipeline is",
            timeout.as_millis()
        ))
    })
}

fn with_position(positions: &Positions, response: Response) -> Response {
    match positions.current() {
        Ok(position) => set_position(response, &position),
        Err(_) => response,
    }
}

fn set_position(mut response: Response, position: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(position) {
        response.headers_mut().insert(POSITION_HEADER, value);
    }
    response
}
