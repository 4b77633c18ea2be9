//! The REST server: Dozer's routes over every endpoint, plus `/health`, `/metrics`, `/`
//! and `/openapi.json`.
//!
//! Every response, errors included, is JSON and carries `x-dozer-position`, so that a client
//! can tell how far the pipeline had got. Request bodies are decoded here rather than by axum's
//! `Json` extractor, so that every 400 names the bad part of the request in our own words.

use super::position::{position_layer, Positions};
use super::query::{check_limit, Query};
use super::{openapi, ApiError, EndpointApi, Page};
use crate::cache::Store;
use crate::sources::{format_lsn, LsnProgress};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the server needs: the cache, the endpoints over it and the source positions.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub endpoints: Vec<Arc<dyn EndpointApi>>,
    pub app_name: &'static str,
    /// Per Postgres connection: its name and progress (empty for file-only pipelines).
    pub connections: Arc<[(String, Arc<LsnProgress>)]>,
}

type Endpoint = Arc<dyn EndpointApi>;

/// On query, count and list responses: the rows (or secondary index entries) read to answer,
/// which shows whether an index served the request.
pub const ROWS_SCANNED_HEADER: HeaderName = HeaderName::from_static("x-dozer-rows-scanned");
/// On query and list responses whose page is full: the `$after` of the next page.
pub const NEXT_CURSOR_HEADER: HeaderName = HeaderName::from_static("x-dozer-next-cursor");

/// The REST API. Per endpoint with `path` `/p`: `GET /p` (first page, `?limit=&skip=`),
/// `GET /p/{id}`, `POST /p/query` and `POST /p/count` (body: the query language).
///
/// # Panics
/// If two endpoints share a path, or a path is `/`, `/health`, `/metrics` or `/openapi.json` (axum refuses
/// overlapping routes): `dozerc` rejects such configs before generating code.
pub fn router(state: ApiState) -> Router {
    let document = Bytes::from(openapi::document(state.app_name, &state.endpoints).to_string());
    let mut router = Router::new()
        .route("/", get(list_endpoints))
        .route("/health", get(health))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4")],
                    crate::metrics::render(),
                )
            }),
        )
        .with_state(state.clone())
        .route(
            "/openapi.json",
            get(move || async move { ([(CONTENT_TYPE, "application/json")], document) }),
        );
    for endpoint in &state.endpoints {
        router = router.merge(endpoint_routes(endpoint.clone()));
    }
    router
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::not_found(format!(
                "no route for {method} {}; GET / lists the endpoints",
                uri.path()
            ))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
        })
        .layer(middleware::from_fn_with_state(
            Positions {
                store: state.store,
                connections: state.connections,
            },
            position_layer,
        ))
}

fn endpoint_routes(endpoint: Endpoint) -> Router {
    let base = endpoint.decl().path.trim_end_matches('/');
    // `GET /p/query` and `GET /p/count` hit the static routes before `/p/{id}`: serve them as
    // ids too, so that a row whose key is "query" stays reachable.
    let literal_id = |id: &'static str| {
        move |state: State<Endpoint>| get_record(state, Ok(Path(id.to_string())))
    };
    Router::new()
        .route(base, get(list_records))
        .route(&format!("{base}/"), get(list_records))
        .route(&format!("{base}/{{id}}"), get(get_record))
        .route(
            &format!("{base}/query"),
            get(literal_id("query")).post(query_records),
        )
        .route(
            &format!("{base}/count"),
            get(literal_id("count")).post(count_records),
        )
        .with_state(endpoint)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish.
pub async fn serve(
    state: ApiState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the REST port. The error says which port and which config key changes it, since the
/// usual cause is a second pipeline (or an old one still running) on the same port.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        use std::io::ErrorKind;
        let port = addr.port();
        let why = match e.kind() {
            ErrorKind::AddrInUse => format!(
                "port {port} is already in use; stop the program using it or set another port with `api.rest.port`"
            ),
            ErrorKind::PermissionDenied => {
                format!("no permission to listen on port {port}; choose a port above 1023 with `api.rest.port`")
            }
            ErrorKind::AddrNotAvailable => {
                format!("{} is not an address of this machine; change `api.rest.host`", addr.ip())
            }
            _ => e.to_string(),
        };
        std::io::Error::new(e.kind(), format!("cannot serve the REST API on {addr}: {why}"))
    })
}

async fn health(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let position = state.store.position()?;
    let mut body = json!({ "status": "SERVING", "position": position });
    if !state.connections.is_empty() {
        let lsns: serde_json::Map<String, Value> = state
            .connections
            .iter()
            .map(|(name, progress)| (name.clone(), json!(format_lsn(progress.applied()))))
            .collect();
        body["postgres"] = Value::Object(lsns);
    }
    let late = crate::metrics::late_changes();
    if !late.is_empty() {
        body["late_changes"] = json!(late);
    }
    Ok(Json(body))
}

async fn list_endpoints(State(state): State<ApiState>) -> Json<Value> {
    let endpoints: Vec<Value> = state
        .endpoints
        .iter()
        .map(|e| {
            let d = e.decl();
            let indexes: Vec<Vec<&str>> = d
                .indexes
                .iter()
                .map(|columns| {
                    columns
                        .iter()
                        .filter_map(|&c| d.fields.get(c).map(|f| f.name))
                        .collect()
                })
                .collect();
            json!({
                "name": d.name,
                "path": d.path,
                "table_name": d.table_name,
                "primary_key": d.primary_key,
                "fields": d.fields,
                "indexes": indexes,
            })
        })
        .collect();
    Json(Value::Array(endpoints))
}

async fn list_records(State(endpoint): State<Endpoint>, uri: Uri) -> Result<Response, ApiError> {
    let query = list_params(&uri)?;
    let page = blocking(move || endpoint.query(&query)).await?;
    Ok(page_response(page))
}

/// A page as Dozer's JSON array of rows, its cursor and scan count in headers.
fn page_response(page: Page<Value>) -> Response {
    let mut response = Json(Value::Array(page.rows)).into_response();
    let headers = response.headers_mut();
    headers.insert(ROWS_SCANNED_HEADER, HeaderValue::from(page.scanned));
    // Cursors are base64url: always a valid header value.
    if let Some(cursor) = page
        .next_cursor
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        headers.insert(NEXT_CURSOR_HEADER, cursor);
    }
    response
}

/// `?limit=&skip=&after=` of `GET /p`: anything else is a 400 rather than silently ignored.
fn list_params(uri: &Uri) -> Result<Query, ApiError> {
    let params = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let mut query = Query::default();
    for (name, value) in params.0 {
        let number = || {
            value.trim().parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "{name}: expected a non-negative integer, found `{value}`"
                ))
            })
        };
        match name.as_str() {
            "limit" => query.limit = Some(check_limit(number()?, "limit")?),
            "skip" => query.skip = number()?,
            "after" => query.after = Some(value),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{name}`; expected limit, skip, after (use POST {}/query to filter)",
                    uri.path().trim_end_matches('/')
                )))
            }
        }
    }
    Ok(query)
}

async fn get_record(
    State(endpoint): State<Endpoint>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(format!("id: {}", e.body_text())))?;
    let name = endpoint.decl().name;
    let (row, id) = blocking(move || endpoint.get(&id).map(|row| (row, id))).await?;
    row.map(Json).ok_or_else(|| {
        ApiError::not_found(format!("endpoint `{name}` has no record with id `{id}`"))
    })
}

async fn query_records(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let query = body_query(&endpoint, &headers, body)?;
    let page = blocking(move || endpoint.query(&query)).await?;
    Ok(page_response(page))
}

async fn count_records(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let query = body_query(&endpoint, &headers, body)?;
    let (count, scanned) = blocking(move || endpoint.count(&query)).await?;
    Ok((
        [(ROWS_SCANNED_HEADER, HeaderValue::from(scanned))],
        Json(Value::from(count)),
    )
        .into_response())
}

/// Decodes a query body. An empty body needs no content type (`curl -X POST .../query`). A
/// non-empty one is read as JSON when it says JSON, or carries the form type `curl -d` sends
/// by default (so `curl -d '{...}'` works without `-H`); any other declared type is an error.
fn body_query(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Query, ApiError> {
    let body = body.map_err(|e| {
        ApiError::bad_request(format!("cannot read the request body: {}", e.body_text()))
    })?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        if let Some(content_type) = headers.get(CONTENT_TYPE) {
            let text = String::from_utf8_lossy(content_type.as_bytes());
            let mime = text
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let accepted = mime == "application/json"
                || mime.ends_with("+json")
                || mime == "application/x-www-form-urlencoded"
                || mime == "text/plain";
            if !accepted {
                return Err(ApiError::bad_request(format!(
                    "the request body must be JSON: expected Content-Type: application/json, found `{text}`"
                )));
            }
        }
    }
    Query::from_body(&body, endpoint.decl().fields)
}

/// Runs a redb read off the async workers: a filtered count or a sort scans the whole table.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("the request failed: {e}")))?
}
