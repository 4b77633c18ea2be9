//! JWT security over REST: which routes need what, every kind of bad token and the status it
//! gets, and a token's filter restricting every read (through the router, no socket).

use super::auth::{issue_token, sign, Access, Claims, EndpointAccess};
use super::tests::{ns, server_with, Server};
use super::Auth;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tower::ServiceExt;

const SECRET: &str = "a test secret of at least 32 bytes!";

fn secured() -> Server {
    server_with(Auth::new(Some(SECRET)))
}

fn token(access: Access) -> String {
    issue_token(SECRET, &access, Duration::from_secs(300)).unwrap()
}

/// Access to `sales` only, its rows restricted by `filter`.
fn sales_only(filter: Option<Value>) -> String {
    token(Access::Custom(
        [("sales".to_string(), EndpointAccess { filter })].into(),
    ))
}

fn request(method: &str, uri: &str, authorization: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

/// The routes that need a token: (method, path, body).
const GUARDED: [(&str, &str, &str); 6] = [
    ("GET", "/sales", ""),
    ("GET", "/sales/UK", ""),
    ("POST", "/sales/query", "{}"),
    ("POST", "/sales/count", "{}"),
    ("GET", "/", ""),
    ("GET", "/openapi.json", ""),
];

/// The issue's table: each bad input, the status it gets on every guarded route, and the start
/// of the message naming the problem.
#[tokio::test]
async fn bad_tokens_get_the_right_status_and_message() {
    let s = secured();
    let valid = token(Access::All);
    let forged = issue_token(
        "someone else's secret, long enough",
        &Access::All,
        Duration::from_secs(300),
    )
    .unwrap();
    let expired = sign(
        SECRET,
        &Claims {
            exp: 1,
            iat: None,
            sub: None,
            access: Access::All,
        },
    )
    .unwrap();
    let (head, rest) = valid.split_once('.').unwrap();
    let tampered_payload = format!(
        "{head}.{}{}",
        if rest.starts_with('e') { "f" } else { "e" },
        &rest[1..]
    );
    let other_endpoint = token(Access::Custom(
        [("orders".to_string(), EndpointAccess::default())].into(),
    ));
    let cases: Vec<(&str, Option<String>, StatusCode, &str)> = vec![
        ("no header", None, StatusCode::UNAUTHORIZED, "missing token"),
        (
            "empty header",
            Some(String::new()),
            StatusCode::UNAUTHORIZED,
            "missing token",
        ),
        (
            "another scheme",
            Some(format!("Basic {valid}")),
            StatusCode::UNAUTHORIZED,
            "malformed Authorization: expected `Bearer <token>`",
        ),
        (
            "no token",
            Some("Bearer ".into()),
            StatusCode::UNAUTHORIZED,
            "malformed Authorization: `Bearer` without a token",
        ),
        (
            "not a JWT",
            Some("Bearer not-a-jwt".into()),
            StatusCode::UNAUTHORIZED,
            "malformed token",
        ),
        (
            "garbage parts",
            Some("Bearer !!.??.##".into()),
            StatusCode::UNAUTHORIZED,
            "malformed token",
        ),
        (
            "wrong secret",
            Some(format!("Bearer {forged}")),
            StatusCode::UNAUTHORIZED,
            "invalid token signature",
        ),
        (
            "tampered payload",
            Some(format!("Bearer {tampered_payload}")),
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "expired",
            Some(format!("Bearer {expired}")),
            StatusCode::UNAUTHORIZED,
            "expired token",
        ),
    ];
    for (what, header, status, message) in &cases {
        for (method, path, body) in GUARDED {
            let reply = s.send(request(method, path, header.as_deref(), body)).await;
            let at = format!("{what}: {method} {path}");
            assert_eq!(reply.status, *status, "{at}: {}", reply.body);
            assert_eq!(reply.body["error"]["status"], status.as_u16(), "{at}");
            let text = reply.body["error"]["message"].as_str().unwrap();
            assert!(text.starts_with(message), "{at}: {text}");
            assert!(!text.contains(SECRET), "{at}: {text}");
            assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer", "{at}");
            assert!(
                reply.position.is_some(),
                "{at}: every answer has a position"
            );
        }
    }

    // A valid token for another endpoint: 403 on this endpoint's routes, but it may read the
    // list of endpoints and the OpenAPI document.
    let header = format!("Bearer {other_endpoint}");
    for (method, path, body) in GUARDED {
        let reply = s.send(request(method, path, Some(&header), body)).await;
        if path.starts_with("/sales") {
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(
                reply.body["error"]["message"],
                "the token does not grant access to endpoint `sales` (it grants: orders)"
            );
            assert!(!reply.headers.contains_key(header::WWW_AUTHENTICATE));
        } else {
            assert_eq!(reply.status, StatusCode::OK, "{path}");
        }
    }
}

#[tokio::test]
async fn a_token_filter_that_does_not_fit_the_endpoint_is_forbidden() {
    let s = secured();
    let header = format!(
        "Bearer {}",
        sales_only(Some(json!({"Quantity": {"$gt": 1}})))
    );
    let reply = s.send(request("GET", "/sales", Some(&header), "")).await;
    let message = s.error(reply, StatusCode::FORBIDDEN).await;
    assert!(
        message.starts_with("the token's filter for endpoint `sales` does not apply to it: unknown field `Quantity`"),
        "{message}"
    );
}

#[tokio::test]
async fn health_and_metrics_stay_open() {
    let s = secured();
    assert_eq!(s.get("/health").await.status, StatusCode::OK);
    let metrics = s
        .router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    // Unknown routes stay 404s, with or without a token.
    assert_eq!(s.get("/nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn all_access_reads_everything() {
    let s = secured();
    let header = format!("Bearer {}", token(Access::All));
    let list = s.send(request("GET", "/sales", Some(&header), "")).await;
    assert_eq!(ns(&list.body), [3, 4, 2, 1]);
    let uk = s.send(request("GET", "/sales/UK", Some(&header), "")).await;
    assert_eq!(uk.body["n"], 1);
    let count = s
        .send(request("POST", "/sales/count", Some(&header), "{}"))
        .await;
    assert_eq!(count.body, json!(4));
    // So does a grant of the endpoint without a filter.
    let header = format!("Bearer {}", sales_only(None));
    let list = s.send(request("GET", "/sales", Some(&header), "")).await;
    assert_eq!(ns(&list.body), [3, 4, 2, 1]);
}

/// Rows: UK (Total 10, n 1), FR (20, 2), NULL (30, 3), ES (20, 4). The token sees Total = 20.
#[tokio::test]
async fn a_token_filter_restricts_list_query_count_and_get() {
    let s = secured();
    let header = format!("Bearer {}", sales_only(Some(json!({"Total": 20}))));
    let send = |method: &'static str, path: &'static str, body: &'static str| {
        s.send(request(method, path, Some(&header), body))
    };
    assert_eq!(ns(&send("GET", "/sales", "").await.body), [4, 2]);
    assert_eq!(
        ns(&send("GET", "/sales?limit=1&skip=1", "").await.body),
        [2]
    );
    assert_eq!(
        ns(
            &send("POST", "/sales/query", r#"{"$order_by": {"n": "asc"}}"#)
                .await
                .body
        ),
        [2, 4]
    );
    // The request's own filter is ANDed with the token's, never widening it.
    assert_eq!(
        ns(
            &send("POST", "/sales/query", r#"{"$filter": {"n": {"$gt": 2}}}"#)
                .await
                .body
        ),
        [4]
    );
    assert_eq!(
        ns(&send(
            "POST",
            "/sales/query",
            r#"{"$filter": {"$or": [{"n": 1}, {"n": 2}]}}"#
        )
        .await
        .body),
        [2]
    );
    assert_eq!(send("POST", "/sales/count", "").await.body, json!(2));
    assert_eq!(
        send("POST", "/sales/count", r#"{"$filter": {"Country": "UK"}}"#)
            .await
            .body,
        json!(0)
    );
    assert_eq!(send("GET", "/sales/FR", "").await.body["n"], 2);
    // A row outside the filter is absent to this token.
    let uk = send("GET", "/sales/UK", "").await;
    assert_eq!(
        s.error(uk, StatusCode::NOT_FOUND).await,
        "endpoint `sales` has no record with id `UK`"
    );
    let null = send("GET", "/sales/null", "").await;
    assert_eq!(null.status, StatusCode::NOT_FOUND);
    // Bad requests are still 400s once the token is accepted.
    let bad = send("POST", "/sales/query", r#"{"$limt": 1}"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn openapi_declares_the_bearer_scheme_when_secured() {
    let s = secured();
    let header = format!("Bearer {}", token(Access::All));
    let doc = s
        .send(request("GET", "/openapi.json", Some(&header), ""))
        .await
        .body;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"]})
    );
    assert_eq!(doc["security"], json!([{"bearerAuth": []}]));
    assert_eq!(doc["paths"]["/health"]["get"]["security"], json!([]));
    for (path, method) in [
        ("/sales", "get"),
        ("/sales/{id}", "get"),
        ("/sales/query", "post"),
        ("/sales/count", "post"),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        assert_eq!(
            responses["401"]["$ref"], "#/components/responses/Unauthorized",
            "{path}"
        );
        assert_eq!(responses["403"]["$ref"], "#/components/responses/Forbidden");
    }
}

#[tokio::test]
async fn security_off_ignores_authorization_headers() {
    let s = server_with(Auth::new(None));
    let reply = s
        .send(request("GET", "/sales", Some("Bearer nonsense"), ""))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = s.get("/openapi.json").await.body;
    assert!(doc.get("security").is_none());
}

/// Rows read before a token's filter applies include rows its holder must not learn about:
/// responses to a filtered token carry no `x-dozer-rows-scanned`.
#[tokio::test]
async fn a_filtered_token_sees_no_scan_counts() {
    let s = secured();
    for (filter, shown) in [(None, true), (Some(json!({"Total": 20})), false)] {
        let header = format!("Bearer {}", sales_only(filter));
        for (method, path, body) in [
            ("GET", "/sales", ""),
            ("POST", "/sales/query", r#"{"$filter": {"n": 1}}"#),
            ("POST", "/sales/count", r#"{"$filter": {"n": 1}}"#),
        ] {
            let reply = s.send(request(method, path, Some(&header), body)).await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(
                reply.header("x-dozer-rows-scanned").is_some(),
                shown,
                "{method} {path}"
            );
        }
    }
}
