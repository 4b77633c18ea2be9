//! The REST server: Dozer's routes over every endpoint, plus `/health`, `/metrics`, `/`
//! and `/openapi.json`.
//!
//! Every response, errors included, is JSON and carries `x-dozer-position`, so that a client
//! can tell how far the pipeline had got.
//!
//! With JWT security on ([`Auth`]), every endpoint route needs a token granting that endpoint,
//! and sees only the rows its filter passes; `/` and `/openapi.json` need a valid token of any
//! access (they describe every endpoint); `/health` and `/metrics` stay open for probes and
//! scrapers (they show positions and counters, no rows). Request bodies are decoded here rather than by axum's
//! `Json` extractor, so that every 400 names the bad part of the request in our own words.

use super::page_cache::{CachedPage, PageCache, PageKey};
use super::position::{position_layer, Positions};
use super::query::Filter;
use super::query::{check_limit, Query};
use super::{openapi, ApiError, Auth, EndpointApi, JsonPage};
use crate::cache::Store;
use crate::sources::{format_lsn, LsnProgress};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRef, FromRequestParts, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
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
    /// JWT security (off: [`Auth::new`]`(None)`).
    pub auth: Auth,
}

type Endpoint = Arc<dyn EndpointApi>;

/// The state of one endpoint's routes: the endpoint, and the pages it answered since the last
/// commit ([`PageCache`]).
#[derive(Clone)]
struct EndpointState {
    api: Endpoint,
    pages: Arc<PageCache>,
}

impl FromRef<EndpointState> for Endpoint {
    fn from_ref(state: &EndpointState) -> Endpoint {
        state.api.clone()
    }
}

impl FromRef<EndpointState> for Arc<PageCache> {
    fn from_ref(state: &EndpointState) -> Arc<PageCache> {
        state.pages.clone()
    }
}

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
    let document = Bytes::from(
        openapi::document(state.app_name, &state.endpoints, state.auth.enabled()).to_string(),
    );
    // What describes every endpoint needs a valid token of any access.
    let described = Router::new()
        .route("/", get(list_endpoints))
        .with_state(state.clone())
        .route(
            "/openapi.json",
            get(move || async move { ([(CONTENT_TYPE, "application/json")], document) }),
        )
        .route_layer(middleware::from_fn_with_state(
            state.auth.clone(),
            require_token,
        ));
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state.clone())
        .merge(described);
    for endpoint in &state.endpoints {
        router = router.merge(endpoint_routes(
            endpoint.clone(),
            state.auth.clone(),
            &state.store,
        ));
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

fn endpoint_routes(endpoint: Endpoint, auth: Auth, store: &Store) -> Router {
    let base = endpoint.decl().path.trim_end_matches('/');
    // `GET /p/query` and `GET /p/count` hit the static routes before `/p/{id}`: serve them as
    // ids too, so that a row whose key is "query" stays reachable.
    let literal_id = |id: &'static str| {
        move |state: State<Endpoint>, restriction: Extension<Restriction>| {
            get_record(state, restriction, Ok(Path(id.to_string())))
        }
    };
    let routes = Router::new()
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
        );
    // Without security every request sees every row: no middleware to run per request.
    let routes = match auth.enabled() {
        true => routes.route_layer(middleware::from_fn_with_state(
            (auth, endpoint.clone()),
            authorize_endpoint,
        )),
        false => routes.route_layer(Extension(Restriction(None))),
    };
    routes.with_state(EndpointState {
        api: endpoint,
        pages: Arc::new(PageCache::new(store.clone())),
    })
}

/// The rows a request may see beyond its own `$filter`: the token's filter, if any.
#[derive(Clone, Debug)]
struct Restriction(Option<Filter>);

impl Restriction {
    /// Whether the request sees every row, so that its answer may be kept for others.
    fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// ANDs the token's filter into `query`; returns whether the scan count may be shown.
    /// Under a filter it may not: the rows read before the filter applies include rows the
    /// holder must not learn about.
    fn apply(self, query: &mut Query) -> ShowScanned {
        match self.0 {
            Some(filter) => {
                query.restrict(filter);
                ShowScanned(false)
            }
            None => ShowScanned(true),
        }
    }
}

/// Whether a response carries `x-dozer-rows-scanned`.
#[derive(Clone, Copy)]
struct ShowScanned(bool);

/// An endpoint route: the token must grant the endpoint; its filter goes to the handler.
async fn authorize_endpoint(
    State((auth, endpoint)): State<(Auth, Endpoint)>,
    mut request: Request,
    next: Next,
) -> Response {
    let granted = authorization(&auth, request.headers())
        .and_then(|header| auth.authorize(header, endpoint.decl()));
    match granted {
        Ok(filter) => {
            request.extensions_mut().insert(Restriction(filter));
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// `/` and `/openapi.json`: any valid token.
async fn require_token(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    match authorization(&auth, request.headers()).and_then(|header| auth.authenticate(header)) {
        Ok(_) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// The `Authorization` header's text (not read when security is off).
fn authorization<'a>(auth: &Auth, headers: &'a HeaderMap) -> Result<Option<&'a str>, ApiError> {
    if !auth.enabled() {
        return Ok(None);
    }
    headers
        .get(AUTHORIZATION)
        .map(|value| {
            value.to_str().map_err(|_| {
                ApiError::Unauthorized("malformed Authorization: not ASCII text".to_string())
            })
        })
        .transpose()
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
    // Ready once the snapshot is in: the files found at the start, and every connection's.
    let ready = crate::metrics::files_caught_up()
        && state.connections.iter().all(|(_, p)| p.committed() > 0);
    let mut body = json!({ "status": "SERVING", "position": position, "ready": ready });
    if !state.connections.is_empty() {
        let lsns: serde_json::Map<String, Value> = state
            .connections
            .iter()
            .map(|(name, progress)| (name.clone(), json!(format_lsn(progress.applied()))))
            .collect();
        body["postgres"] = Value::Object(lsns);
    }
    let files = crate::metrics::files_ingested();
    if !files.is_empty() {
        body["files"] = json!(files);
    }
    let late = crate::metrics::late_changes();
    if !late.is_empty() {
        body["late_changes"] = json!(late);
    }
    Ok(Json(body))
}

/// `GET /metrics`: the counters, and the gauges read now (rows per endpoint, source lag).
async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let scrape = blocking(move || {
        let mut scrape = crate::metrics::Scrape::default();
        for endpoint in &state.endpoints {
            let (rows, _) = endpoint.count(&Query::default())?;
            scrape.endpoint_rows.push((endpoint.decl().name, rows));
        }
        let now = chrono::Utc::now().timestamp_micros();
        for (name, progress) in state.connections.iter() {
            let (bytes, seconds) = progress.lag(now);
            scrape.connection_lag.push((name.clone(), bytes, seconds));
        }
        Ok(scrape)
    })
    .await?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&scrape),
    )
        .into_response())
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

async fn list_records(
    State(endpoint): State<Endpoint>,
    State(pages): State<Arc<PageCache>>,
    Extension(restriction): Extension<Restriction>,
    NoCache(no_cache): NoCache,
    uri: Uri,
) -> Result<Response, ApiError> {
    crate::metrics::endpoint_request(endpoint.decl().name);
    // The same query string is the same request (anything unparsable was refused before it
    // could be kept).
    let key = restriction
        .is_none()
        .then(|| PageKey::List(uri.query().unwrap_or_default()));
    if let Some(page) = key.filter(|_| !no_cache).and_then(|key| pages.get(key)) {
        return Ok(page_response(page, ShowScanned(true)));
    }
    let version = pages.version();
    let mut query = list_params(&uri)?;
    let show = restriction.apply(&mut query);
    let page = CachedPage::from(run_query(endpoint, query).await?);
    if let Some(key) = key {
        pages.put(version, key, &page);
    }
    Ok(page_response(page, show))
}

/// `Cache-Control: no-cache` (or `no-store`): the client asks for an answer computed now
/// rather than one kept since the last commit.
struct NoCache(bool);

impl<S: Send + Sync> FromRequestParts<S> for NoCache {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<NoCache, Self::Rejection> {
        let asks = parts.headers.get_all(CACHE_CONTROL).iter().any(|value| {
            value.to_str().is_ok_and(|text| {
                text.split(',').any(|directive| {
                    let directive = directive.trim();
                    directive.eq_ignore_ascii_case("no-cache")
                        || directive.eq_ignore_ascii_case("no-store")
                })
            })
        });
        Ok(NoCache(asks))
    }
}

impl From<JsonPage> for CachedPage {
    fn from(page: JsonPage) -> CachedPage {
        CachedPage {
            json: Bytes::from(page.json),
            // Cursors are base64url: always a valid header value.
            next_cursor: page
                .next_cursor
                .and_then(|c| HeaderValue::from_str(&c).ok()),
            scanned: page.scanned,
        }
    }
}

/// Runs a query in place when it reads about a page at most (redb reads take microseconds;
/// a hop to a blocking thread would cost more than the read), on a blocking thread otherwise,
/// so that a long scan never holds up the server's async workers.
async fn run_query(endpoint: Endpoint, query: Query) -> Result<JsonPage, ApiError> {
    if endpoint.is_bounded(&query) {
        endpoint.query(&query)
    } else {
        blocking(move || endpoint.query(&query)).await
    }
}

/// JSON bytes as a response.
fn json_response(json: impl Into<axum::body::Body>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        json.into(),
    )
        .into_response()
}

/// A page as Dozer's JSON array of rows, its cursor and scan count in headers.
fn page_response(page: CachedPage, show: ShowScanned) -> Response {
    let mut response = json_response(page.json);
    let headers = response.headers_mut();
    if show.0 {
        headers.insert(ROWS_SCANNED_HEADER, HeaderValue::from(page.scanned));
    }
    if let Some(cursor) = page.next_cursor {
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
    Extension(Restriction(filter)): Extension<Restriction>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    crate::metrics::endpoint_request(endpoint.decl().name);
    let Path(id) = id.map_err(|e| ApiError::bad_request(format!("id: {}", e.body_text())))?;
    let name = endpoint.decl().name;
    // A row outside the token's filter is absent to its holder: 404, like a missing one.
    // One key lookup: done in place (see `run_query`).
    let row = endpoint.get_matching(&id, filter.as_ref())?;
    row.map(json_response).ok_or_else(|| {
        ApiError::not_found(format!("endpoint `{name}` has no record with id `{id}`"))
    })
}

async fn query_records(
    State(endpoint): State<Endpoint>,
    State(pages): State<Arc<PageCache>>,
    Extension(restriction): Extension<Restriction>,
    NoCache(no_cache): NoCache,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    crate::metrics::endpoint_request(endpoint.decl().name);
    let body = checked_body(&headers, body)?;
    // The same body is the same query (a body that does not parse was refused before it could
    // be kept).
    let key = restriction.is_none().then_some(PageKey::Query(&body));
    if let Some(page) = key.filter(|_| !no_cache).and_then(|key| pages.get(key)) {
        return Ok(page_response(page, ShowScanned(true)));
    }
    let version = pages.version();
    let mut query = Query::from_body(&body, endpoint.decl().fields)?;
    let show = restriction.apply(&mut query);
    let page = CachedPage::from(run_query(endpoint, query).await?);
    if let Some(key) = key {
        pages.put(version, key, &page);
    }
    Ok(page_response(page, show))
}

async fn count_records(
    State(endpoint): State<Endpoint>,
    Extension(restriction): Extension<Restriction>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    crate::metrics::endpoint_request(endpoint.decl().name);
    let mut query = body_query(&endpoint, &headers, body)?;
    let show = restriction.apply(&mut query);
    let (count, scanned) = blocking(move || endpoint.count(&query)).await?;
    let mut response = Json(Value::from(count)).into_response();
    if show.0 {
        response
            .headers_mut()
            .insert(ROWS_SCANNED_HEADER, HeaderValue::from(scanned));
    }
    Ok(response)
}

/// Decodes a query body. An empty body needs no content type (`curl -X POST .../query`). A
/// non-empty one is read as JSON when it says JSON, or carries the form type `curl -d` sends
/// by default (so `curl -d '{...}'` works without `-H`); any other declared type is an error.
fn body_query(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Query, ApiError> {
    let body = checked_body(headers, body)?;
    Query::from_body(&body, endpoint.decl().fields)
}

/// A query body that was read whole and declares no content type other than JSON's.
fn checked_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
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
    Ok(body)
}

/// Runs a redb read off the async workers: a filtered count or a sort scans the whole table.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("the request failed: {e}")))?
}
