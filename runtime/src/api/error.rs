//! API errors and how they are rendered: a status code plus
//! `{"error": {"status": 400, "message": "..."}}`, for every failure including unknown routes,
//! so that clients can always parse the body as JSON.

use crate::cache::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a request failed. Messages are written for the person who wrote the request: they name
/// the part of the request that is wrong (`$filter.$or[1].Country.$gtx`) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, unknown field, wrong value type, bad id...).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid token (missing, malformed, wrongly signed, expired); the message says
    /// which. Sent with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a valid token that does not grant what was asked.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such record, endpoint or route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 504: the position a request asked to wait for was not reached in time.
    #[error("{0}")]
    Timeout(String),
    /// 500: the cache database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 500: anything else that is our fault (a row that does not serialize, a panicked task).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(message.into())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body sent for this error.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "status": self.status().as_u16(), "message": self.to_string() } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Server-side failures are the operator's concern too: log them; client errors are not.
        if status.is_server_error() {
            tracing::error!(error = %self, "API request failed");
        }
        let mut response = (status, Json(self.to_json())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a 401 names the scheme the client should use.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_status_and_message_as_json() {
        let response = ApiError::bad_request("unknown key `$limt` in query").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"status": 400, "message": "unknown key `$limt` in query"}})
        );
    }

    #[tokio::test]
    async fn unauthorized_names_the_bearer_scheme() {
        let response = ApiError::Unauthorized("missing token".into()).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[axum::http::header::WWW_AUTHENTICATE],
            "Bearer"
        );
        let response = ApiError::Forbidden("not yours".into()).into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(!response
            .headers()
            .contains_key(axum::http::header::WWW_AUTHENTICATE));
    }

    #[test]
    fn maps_variants_to_statuses() {
        assert_eq!(ApiError::not_found("x").status(), StatusCode::NOT_FOUND);
        assert_eq!(
            ApiError::internal("x").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let store = StoreError::Encoding(postcard::Error::DeserializeUnexpectedEnd);
        let error = ApiError::from(store);
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(error.to_string().starts_with("cache encoding"), "{error}");
    }
}
