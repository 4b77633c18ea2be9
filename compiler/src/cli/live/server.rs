//! The live page's server: the page and its assets (compiled in), the view as JSON, the
//! current pipeline's metrics per graph node, and `/api/...` proxied to the current pipeline's
//! REST API, so that the page's requests keep working across rebuilds.

use super::{metrics_text, Shared};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::json;
use std::time::Duration;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript", APP_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css", STYLE) }),
        )
        .route("/live/state", get(state))
        .route("/live/metrics", get(metrics))
        .route("/api/{*path}", any(proxy))
        .with_state(shared)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type)], body).into_response()
}

async fn state(State(shared): State<Shared>) -> Response {
    Json(shared.lock().clone()).into_response()
}

/// An error of the live server itself, as JSON.
fn unavailable(message: impl Into<String>) -> Response {
    let body = json!({"error": {"status": 503, "message": message.into()}});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

fn current_port(shared: &Shared) -> Option<u16> {
    shared.lock().pipeline.as_ref().map(|p| p.rest_port)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `GET /live/metrics`: rows per graph node, from the current pipeline's `/metrics`.
async fn metrics(State(shared): State<Shared>) -> Response {
    let Some(port) = current_port(&shared) else {
        return unavailable("no pipeline is running");
    };
    let fetched = tokio::task::spawn_blocking(move || {
        agent()
            .get(&format!("http://127.0.0.1:{port}/metrics"))
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
    })
    .await;
    match fetched {
        Ok(Ok(text)) => {
            let rows = metrics_text::node_rows(&metrics_text::parse(&text));
            let time_ms = chrono::Utc::now().timestamp_millis();
            Json(json!({"time_ms": time_ms, "rows": rows})).into_response()
        }
        Ok(Err(e)) => unavailable(format!("the pipeline's /metrics: {e}")),
        Err(e) => unavailable(format!("internal error: {e}")),
    }
}

/// `/api/<rest>`: the same request to the current pipeline's REST API, answered as it answers.
async fn proxy(State(shared): State<Shared>, request: Request) -> Response {
    let Some(port) = current_port(&shared) else {
        return unavailable("no pipeline is running yet; see the build status");
    };
    let method = request.method().clone();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .trim_start_matches("/api")
        .to_string();
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = match axum::body::to_bytes(request.into_body(), 1 << 20).await {
        Ok(body) => body,
        Err(e) => return unavailable(format!("cannot read the request: {e}")),
    };
    let url = format!("http://127.0.0.1:{port}{path_and_query}");
    let answered =
        tokio::task::spawn_blocking(move || forward(&method, &url, &content_type, body)).await;
    match answered {
        Ok(Ok((status, content_type, body))) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [(CONTENT_TYPE, content_type)], body).into_response()
        }
        Ok(Err(e)) => unavailable(format!("the pipeline did not answer: {e}")),
        Err(e) => unavailable(format!("internal error: {e}")),
    }
}

fn forward(
    method: &Method,
    url: &str,
    content_type: &str,
    body: Bytes,
) -> Result<(u16, String, Vec<u8>), ureq::Error> {
    let agent = agent();
    let mut response = if method == Method::POST {
        agent
            .post(url)
            .header("content-type", content_type)
            .send(&body[..])?
    } else {
        agent.get(url).call()?
    };
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = response.body_mut().read_to_vec()?;
    Ok((response.status().as_u16(), content_type, body))
}
