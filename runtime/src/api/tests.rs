//! The REST router end to end: a real redb store in a tempdir, requests through
//! `tower::ServiceExt::oneshot` (no socket).

use super::fixtures::{sample_rows, store_with_rows, Key, Row, DECL};
use super::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

pub(super) struct Server {
    pub(super) router: axum::Router,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    server_with(Auth::new(None))
}

/// The sample rows served as endpoint `sales`, with `auth`.
pub(super) fn server_with(auth: Auth) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_rows(dir.path(), &sample_rows());
    let endpoint: Arc<dyn EndpointApi> =
        Arc::new(TypedEndpoint::<Key, Row>::new(store.clone(), DECL));
    let state = ApiState {
        store,
        endpoints: vec![endpoint],
        app_name: "shop",
        connections: Arc::from(Vec::new()),
        auth,
    };
    Server {
        router: router(state),
        _dir: dir,
    }
}

pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) position: Option<String>,
    pub(super) headers: axum::http::HeaderMap,
    pub(super) body: Value,
}

impl Reply {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

impl Server {
    pub(super) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let position = response
            .headers()
            .get("x-dozer-position")
            .map(|v| v.to_str().unwrap().to_string());
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}"));
        Reply {
            status,
            position,
            headers,
            body,
        }
    }

    pub(super) async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub(super) async fn post(&self, uri: &str, body: &str) -> Reply {
        let request = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// The message of an error reply with `status`.
    pub(super) async fn error(&self, reply: Reply, status: StatusCode) -> String {
        assert_eq!(reply.status, status, "{}", reply.body);
        assert_eq!(reply.body["error"]["status"], status.as_u16());
        reply.body["error"]["message"].as_str().unwrap().to_string()
    }
}

pub(super) fn ns(body: &Value) -> Vec<i64> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|r| r["n"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn lists_and_gets_records() {
    let s = server();
    let list = s.get("/sales").await;
    assert_eq!(list.status, StatusCode::OK);
    // The store was written without bumping the position: the header still says where we are.
    assert_eq!(list.position.as_deref(), Some("0"));
    assert_eq!(ns(&list.body), [3, 4, 2, 1]);
    assert_eq!(
        list.body[1],
        json!({"Country": "ES", "Total": "20", "n": 4})
    );
    let keys: Vec<&String> = list.body[1].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Country", "Total", "n"]);
    assert_eq!(ns(&s.get("/sales?limit=2&skip=1").await.body), [4, 2]);
    assert_eq!(
        ns(&s.get("/sales/?limit=1").await.body),
        [3],
        "a trailing slash lists too"
    );

    let uk = s.get("/sales/UK").await;
    assert_eq!(
        (uk.status, uk.body["n"].clone()),
        (StatusCode::OK, json!(1))
    );
    assert_eq!(s.get("/sales/null").await.body["n"], 3);
    let missing = s.get("/sales/Narnia").await;
    assert!(missing.position.is_some());
    assert_eq!(
        s.error(missing, StatusCode::NOT_FOUND).await,
        "endpoint `sales` has no record with id `Narnia`"
    );
}

#[tokio::test]
async fn queries_and_counts() {
    let s = server();
    let body = r#"{"$filter": {"Total": {"$gte": 20}}, "$order_by": {"Total": "asc", "n": "desc"}, "$limit": 2, "$skip": 1}"#;
    let reply = s.post("/sales/query", body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(ns(&reply.body), [2, 3]);
    assert_eq!(ns(&s.post("/sales/query", "").await.body), [3, 4, 2, 1]);
    assert_eq!(ns(&s.post("/sales/query", "{}").await.body), [3, 4, 2, 1]);
    let or = r#"{"$filter": {"$or": [{"Country": null}, {"country": {"$in": ["UK", "ES"]}}]}}"#;
    assert_eq!(ns(&s.post("/sales/query", or).await.body), [3, 4, 1]);

    let count = s
        .post("/sales/count", r#"{"$filter": {"Total": 20}, "$limit": 1}"#)
        .await;
    assert_eq!((count.status, count.body), (StatusCode::OK, json!(2)));
    assert_eq!(s.post("/sales/count", "").await.body, json!(4));
}

#[tokio::test]
async fn pages_carry_a_cursor_and_the_rows_read() {
    let s = server();
    // Ordered by an indexed column: the page is read from the index.
    let first = s
        .post(
            "/sales/query",
            r#"{"$order_by": {"n": "desc"}, "$limit": 2}"#,
        )
        .await;
    assert_eq!(ns(&first.body), [4, 3]);
    // Two index entries, and the next one (read backwards, a group of ties ends only there).
    assert_eq!(first.header("x-dozer-rows-scanned"), Some("3"));
    let cursor = first.header("x-dozer-next-cursor").unwrap().to_string();
    let body = format!(r#"{{"$order_by": {{"n": "desc"}}, "$limit": 2, "$after": "{cursor}"}}"#);
    let second = s.post("/sales/query", &body).await;
    assert_eq!(ns(&second.body), [2, 1]);
    let cursor = second.header("x-dozer-next-cursor").unwrap().to_string();
    let body = format!(r#"{{"$order_by": {{"n": "desc"}}, "$limit": 2, "$after": "{cursor}"}}"#);
    let last = s.post("/sales/query", &body).await;
    assert_eq!(
        (ns(&last.body), last.header("x-dozer-next-cursor")),
        (vec![], None)
    );

    // Lists page with `?after=` too.
    let list = s.get("/sales?limit=3").await;
    assert_eq!(list.header("x-dozer-rows-scanned"), Some("3"));
    let cursor = list.header("x-dozer-next-cursor").unwrap().to_string();
    assert_eq!(
        ns(&s.get(&format!("/sales?limit=3&after={cursor}")).await.body),
        [1]
    );

    let count = s
        .post("/sales/count", r#"{"$filter": {"n": {"$gt": 2}}}"#)
        .await;
    assert_eq!(count.body, json!(2));
    assert_eq!(count.header("x-dozer-rows-scanned"), Some("2"));

    let wrong_order = format!(r#"{{"$order_by": {{"n": "asc"}}, "$after": "{cursor}"}}"#);
    let e = s
        .error(
            s.post("/sales/query", &wrong_order).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(e.starts_with("$after: this cursor continues a query with $order_by (none: primary key order), but this query has $order_by {\"n\": \"asc\"}"), "{e}");
    let with_skip = format!(r#"{{"$skip": 1, "$after": "{cursor}"}}"#);
    let e = s
        .error(
            s.post("/sales/query", &with_skip).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(e.starts_with("$after and $skip cannot be combined"), "{e}");
    let e = s
        .error(
            s.post("/sales/query", r#"{"$after": "xyz"}"#).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(
        e.starts_with("$after: `xyz` is not a cursor of endpoint `sales`"),
        "{e}"
    );
    let e = s
        .error(s.get("/sales?after=%21").await, StatusCode::BAD_REQUEST)
        .await;
    assert!(e.starts_with("$after: `!` is not a cursor"), "{e}");
}

#[tokio::test]
async fn bad_requests_name_the_bad_part() {
    let s = server();
    let e = s
        .error(
            s.post("/sales/query", "{\"$filter\": ").await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(
        e.starts_with("request body is not JSON: EOF while parsing"),
        "{e}"
    );
    let e = s
        .error(
            s.post("/sales/query", r#"{"$filter": {"Foo": 1}}"#).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(
        e,
        "unknown field `Foo` in $filter; fields are: Country, Total, n"
    );
    let e = s
        .error(
            s.post("/sales/count", r#"{"$filter": {"n": "abc"}}"#).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(e, "$filter.n: `abc` is not an Int");
    let e = s
        .error(
            s.post("/sales/query", r#"{"$limt": 5}"#).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(
        e,
        "unknown key `$limt` in query; expected $filter, $order_by, $limit, $skip, $after"
    );
    let e = s
        .error(s.get("/sales?limit=10001").await, StatusCode::BAD_REQUEST)
        .await;
    assert!(
        e.starts_with("limit: 10001 is above the maximum of 10000"),
        "{e}"
    );
    let e = s
        .error(s.get("/sales?limit=x").await, StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(e, "limit: expected a non-negative integer, found `x`");
    let e = s
        .error(s.get("/sales?filter=1").await, StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(
        e,
        "unknown query parameter `filter`; expected limit, skip, after (use POST /sales/query to filter)"
    );

    let form = Request::post("/sales/query")
        .header(header::CONTENT_TYPE, "application/xml")
        .body(Body::from("{}"))
        .unwrap();
    let e = s.error(s.send(form).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        e,
        "the request body must be JSON: expected Content-Type: application/json, found `application/xml`"
    );
    let curl_default = Request::post("/sales/count")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        s.send(curl_default).await.body,
        json!(4),
        "curl -d sends a form type: read the JSON body anyway"
    );
    let untyped = Request::post("/sales/count")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        s.send(untyped).await.body,
        json!(4),
        "no content type: assume JSON"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let s = server();
    let reply = s.get("/nope").await;
    assert!(reply.position.is_some());
    assert_eq!(
        s.error(reply, StatusCode::NOT_FOUND).await,
        "no route for GET /nope; GET / lists the endpoints"
    );
    let e = s
        .error(s.post("/sales", "{}").await, StatusCode::METHOD_NOT_ALLOWED)
        .await;
    assert_eq!(e, "POST is not allowed on /sales");
    // `GET /sales/query` is the record whose key is "query".
    let e = s
        .error(s.get("/sales/query").await, StatusCode::NOT_FOUND)
        .await;
    assert_eq!(e, "endpoint `sales` has no record with id `query`");
}

#[tokio::test]
async fn describes_itself() {
    let s = server();
    let mut health = s.get("/health").await;
    // Whether the files are in is process-wide (other tests poll files): only its type here.
    assert!(health.body["ready"].take().is_boolean());
    health.body.as_object_mut().unwrap().remove("ready");
    assert_eq!(health.body, json!({"status": "SERVING", "position": 0}));
    let root = s.get("/").await;
    assert_eq!(
        root.body,
        json!([{
            "name": "sales", "path": "/sales", "table_name": "sales_by_country", "primary_key": ["Country"],
            "fields": [
                {"name": "Country", "type": "String", "nullable": true},
                {"name": "Total", "type": "Decimal", "nullable": false},
                {"name": "n", "type": "Int", "nullable": false},
            ],
            "indexes": [["Total"], ["n"], ["Country", "Total"]],
        }])
    );
    let doc = s.get("/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.position.is_some());
    assert_eq!(doc.body["openapi"], "3.0.3");
    assert_eq!(doc.body["info"]["title"], "shop");
    let row = &doc.body["components"]["schemas"]["sales"];
    assert_eq!(
        row["properties"]["Country"],
        json!({"type": "string", "nullable": true})
    );
    assert_eq!(row["properties"]["Total"]["type"], "string");
    assert_eq!(
        row["properties"]["n"],
        json!({"type": "integer", "format": "int64"})
    );
    for path in ["/sales", "/sales/{id}", "/sales/query", "/sales/count"] {
        assert!(doc.body["paths"][path].is_object(), "{path}");
    }
    let query = &doc.body["components"]["schemas"]["salesQuery"]["properties"];
    assert_eq!(query["$limit"]["maximum"], 10_000);
    assert_eq!(query["$filter"]["$ref"], "#/components/schemas/salesFilter");
    assert_eq!(query["$after"]["type"], "string");
    let headers = &doc.body["paths"]["/sales/query"]["post"]["responses"]["200"]["headers"];
    assert_eq!(
        headers["x-dozer-next-cursor"]["$ref"],
        "#/components/headers/NextCursor"
    );
    assert_eq!(
        headers["x-dozer-rows-scanned"]["$ref"],
        "#/components/headers/RowsScanned"
    );
    let count = &doc.body["paths"]["/sales/count"]["post"]["responses"]["200"]["headers"];
    assert!(count["x-dozer-rows-scanned"].is_object() && count["x-dozer-next-cursor"].is_null());
    assert!(doc.body["components"]["headers"]["NextCursor"].is_object());
}

#[tokio::test]
async fn position_header_follows_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_rows(dir.path(), &sample_rows());
    let txn = store.begin_write().unwrap();
    store.commit(txn).unwrap();
    let state = ApiState {
        store,
        endpoints: Vec::new(),
        app_name: "shop",
        connections: Arc::from(Vec::new()),
        auth: Auth::new(None),
    };
    let reply = Server {
        router: router(state),
        _dir: dir,
    }
    .get("/health")
    .await;
    assert_eq!(reply.position.as_deref(), Some("1"));
    assert_eq!(reply.body["position"], 1);
}

/// A server whose pipeline reads one Postgres connection `db` at LSN 0/100.
fn server_with_connection() -> (Server, Arc<crate::sources::LsnProgress>) {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_rows(dir.path(), &sample_rows());
    let progress = Arc::new(crate::sources::LsnProgress::new(0x100));
    let state = ApiState {
        store,
        endpoints: Vec::new(),
        app_name: "shop",
        connections: Arc::from(vec![("db".to_string(), progress.clone())]),
        auth: Auth::new(None),
    };
    let server = Server {
        router: router(state),
        _dir: dir,
    };
    (server, progress)
}

fn waiting(wait_for: &str, timeout_ms: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/health").header("x-dozer-wait-for", wait_for);
    if let Some(ms) = timeout_ms {
        request = request.header("x-dozer-wait-timeout-ms", ms);
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn position_header_names_each_postgres_connection() {
    let (server, _) = server_with_connection();
    let mut reply = server.get("/health").await;
    assert_eq!(reply.position.as_deref(), Some("0 db=0/100"));
    assert!(reply.body["ready"].take().is_boolean());
    reply.body.as_object_mut().unwrap().remove("ready");
    assert_eq!(
        reply.body,
        json!({"status": "SERVING", "position": 0, "postgres": {"db": "0/100"}})
    );
}

#[tokio::test]
async fn a_request_waits_until_its_position_is_applied() {
    let (server, progress) = server_with_connection();
    // Already applied: answers at once, with either spelling.
    for header in ["0/80", "db=0/100"] {
        let reply = server.send(waiting(header, None)).await;
        assert_eq!(reply.status, StatusCode::OK, "{header}: {}", reply.body);
    }
    // Not yet: answers once the driver reports the commit.
    let pending = tokio::spawn(async move { server.send(waiting("0/200", Some("5000"))).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!pending.is_finished(), "answered before 0/200 was applied");
    progress.set_committed(0x200);
    let reply = pending.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.position.as_deref(), Some("0 db=0/200"));
}

#[tokio::test]
async fn waiting_too_long_or_for_nonsense_is_an_error() {
    let (server, _) = server_with_connection();
    let reply = server.send(waiting("0/200", Some("30"))).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("was not applied within 30 ms"));
    assert_eq!(
        reply.position.as_deref(),
        Some("0 db=0/100"),
        "says how far it got"
    );
    for (header, timeout, expected) in [
        ("zz", None, "is not a Postgres LSN"),
        (
            "other=0/1",
            None,
            "no Postgres connection `other`; its Postgres connections are `db`",
        ),
        ("0/1", Some("soon"), "expected a number of milliseconds"),
        ("0/1", Some("600000"), "at most 60000 ms"),
    ] {
        let reply = server.send(waiting(header, timeout)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{header}");
        let message = reply.body["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(expected), "{header}: {message}");
    }
}

#[tokio::test]
async fn bind_names_the_port_and_config_key() {
    let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = first.local_addr().unwrap();
    let e = bind(addr).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    let message = e.to_string();
    assert!(
        message.contains(&format!("port {} is already in use", addr.port())),
        "{message}"
    );
    assert!(message.contains("`api.rest.port`"), "{message}");
}

/// Pages asked again between two commits come from the page cache; each commit is seen by the
/// next request, and `Cache-Control: no-cache` computes the page anew.
#[tokio::test]
async fn repeated_pages_show_every_commit() {
    use super::fixtures::row;
    use crate::cache::EndpointTable;
    use crate::types::Delta;

    let dir = tempfile::tempdir().unwrap();
    let store = store_with_rows(dir.path(), &sample_rows());
    let endpoint: Arc<dyn EndpointApi> =
        Arc::new(TypedEndpoint::<Key, Row>::new(store.clone(), DECL));
    let s = Server {
        router: router(ApiState {
            store: store.clone(),
            endpoints: vec![endpoint],
            app_name: "shop",
            connections: Arc::from(Vec::new()),
            auth: Auth::new(None),
        }),
        _dir: dir,
    };
    let table = EndpointTable::<Key, Row>::with_indexes(DECL.name, DECL.indexes);
    let write = |country: &str, n: i64| {
        let txn = store.begin_write().unwrap();
        let delta = Delta::insert((Some(country.to_string()),), row(Some(country), n, n));
        table.apply(&txn, &[delta]).unwrap();
        store.commit(txn).unwrap();
    };
    let by_n = r#"{"$order_by": {"n": "desc"}, "$limit": 2}"#;
    for _ in 0..2 {
        assert_eq!(ns(&s.get("/sales?limit=10").await.body), [3, 4, 2, 1]);
        assert_eq!(ns(&s.post("/sales/query", by_n).await.body), [4, 3]);
    }
    let cached = s.get("/sales?limit=10").await;
    assert_eq!(cached.header("x-dozer-rows-scanned"), Some("4"));

    write("AU", 9);
    assert_eq!(ns(&s.get("/sales?limit=10").await.body), [3, 9, 4, 2, 1]);
    assert_eq!(ns(&s.post("/sales/query", by_n).await.body), [9, 4]);
    assert_eq!(cached.position.as_deref(), Some("0"));
    assert_eq!(s.get("/sales").await.position.as_deref(), Some("1"));

    // Cached again at the new commit; a client asking for no cache gets the same rows.
    assert_eq!(ns(&s.get("/sales?limit=10").await.body), [3, 9, 4, 2, 1]);
    let fresh = s
        .send(
            Request::get("/sales?limit=10")
                .header(header::CACHE_CONTROL, "max-age=0, no-cache")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(ns(&fresh.body), [3, 9, 4, 2, 1]);

    // A bad request is never answered from the cache, whatever was asked before.
    let bad = s
        .send(
            Request::post("/sales/query")
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from(by_n))
                .unwrap(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
