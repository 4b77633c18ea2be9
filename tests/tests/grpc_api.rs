//! gRPC end to end, through a real client: Python stubs generated with grpcio-tools from the
//! protos the pipeline's crate emits, talking to the running pipeline over a Postgres source.
//!
//! Checked: the typed and the common service return the same rows as REST, and all three equal
//! Postgres; cursors page through every row once; bad requests get the right code and a message
//! naming the problem; health says SERVING and reflection lists every service; `OnEvent`
//! delivers the changes made in Postgres, in commit order, through a filter, with positions.

use dozer_e2e::http::{all_rows, wait_for_position};
use dozer_e2e::oracle::{assert_same, canonical_endpoint_rows, Oracle};
use dozer_e2e::pipeline::{build, Running};
use dozer_e2e::python::{generate_stubs, run_client, spawn_client};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::time::Duration;

const SETUP: &str = "
CREATE TABLE sales (
    id int PRIMARY KEY,
    country text NOT NULL,
    amount numeric(10, 2) NOT NULL,
    sold_at timestamp NOT NULL,
    note text
);
ALTER TABLE sales REPLICA IDENTITY FULL;
INSERT INTO sales
SELECT i, (ARRAY['UK', 'France', 'Spain', 'Chile'])[1 + i % 4], (i * 7 % 50) + 0.25,
       timestamp '2024-03-01 08:00' + i * interval '37 minutes',
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END
FROM generate_series(1, 40) AS i;
";

const BY_COUNTRY: &str =
    "SELECT country, SUM(amount) AS total, COUNT(*) AS sales FROM sales GROUP BY country";
const SALES: &str = "SELECT id, country, amount, sold_at, note FROM sales";

/// Each test builds its own app: tests run at once, and a crate's binary is named by its app.
fn config(app: &str, database: &str) -> String {
    format!(
        "app_name: {app}
connections:
  - name: pg
    config: !Postgres {{ user: postgres, host: 127.0.0.1, port: 5432, database: {database} }}
sources:
  - {{ name: sales, table_name: sales, connection: pg }}
sql: |
  SELECT country, SUM(amount) AS total, COUNT(*) AS sales INTO by_country FROM sales GROUP BY country;
  SELECT id, country, amount, sold_at, note INTO sales_list FROM sales;
endpoints:
  - {{ name: by_country, path: /by_country, table_name: by_country }}
  - {{ name: sales_list, path: /sales, table_name: sales_list }}
"
    )
}

fn spec() -> Value {
    json!({"endpoints": [
        {"name": "sales_list", "module": "sales_list", "service": "SalesListService"},
        {"name": "by_country", "module": "by_country", "service": "ByCountryService"},
    ]})
}

fn rows(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// Waits until the pipeline has applied everything Postgres has committed so far.
fn catch_up(oracle: &mut Oracle, running: &Running) -> anyhow::Result<()> {
    let lsn: String = oracle
        .client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])?
        .get(0);
    wait_for_position(running.port, &lsn, Duration::from_secs(60))
        .map_err(|e| e.context(format!("pipeline log:\n{}", running.log_text())))
}

/// A pipeline over the `sales` table, caught up with its snapshot, and its Python stubs.
struct Started {
    oracle: Oracle,
    running: Running,
    stubs: std::path::PathBuf,
    /// The gRPC address.
    address: String,
    _dir: tempfile::TempDir,
}

/// Builds and starts app `app` (its own database and crate), and generates its Python stubs.
fn start(app: &str) -> anyhow::Result<Started> {
    let mut oracle = Oracle::new(app)?;
    oracle.client.batch_execute(SETUP)?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("dozer-config.yaml");
    std::fs::write(&config_path, config(app, oracle.name()))?;
    let built = build(&config_path, &dir.path().join("build"))?;
    let stubs = dir.path().join("stubs");
    generate_stubs(&built.crate_dir, &stubs)?;
    let running = Running::start(&built.binary, &dir.path().join("home"), free_port())?;
    catch_up(&mut oracle, &running)?;
    Ok(Started {
        address: format!("127.0.0.1:{}", running.grpc_port),
        oracle,
        running,
        stubs,
        _dir: dir,
    })
}

#[test]
fn typed_and_common_services_agree_with_rest_and_postgres() -> anyhow::Result<()> {
    // In this order, so that the pipeline stops before its database and folder go.
    let Started {
        _dir,
        mut oracle,
        running,
        stubs,
        address,
    } = start("grpc_api")?;

    let out = run_client(&stubs, &["check", &address, &spec().to_string()])?;
    for (endpoint, path, sql) in [
        ("sales_list", "/sales", SALES),
        ("by_country", "/by_country", BY_COUNTRY),
    ] {
        let rest = all_rows(running.port, path)?;
        let typed = rows(&out["typed"][endpoint]);
        let common = rows(&out["common"][endpoint]);
        assert_same(&format!("{endpoint} over REST"), &rest, oracle.rows(sql)?)?;
        assert_eq!(
            canonical_endpoint_rows(&typed),
            canonical_endpoint_rows(&rest),
            "{endpoint}: the typed service differs from REST"
        );
        assert_eq!(
            canonical_endpoint_rows(&common),
            canonical_endpoint_rows(&rest),
            "{endpoint}: the common service differs from REST"
        );
        assert_eq!(
            out["count"][endpoint],
            json!(rest.len()),
            "{endpoint} count"
        );
        // The commit the rows reflect: nothing was committed since the snapshot caught up.
        assert_eq!(
            out["commit"][endpoint],
            json!(running.position()),
            "{endpoint} commit"
        );
        // Pages of 3 joined end to end are every row once, in key order.
        let paged: Vec<Value> = rows(&out["pages"][endpoint])
            .iter()
            .flat_map(rows)
            .collect();
        assert_eq!(paged, typed, "{endpoint}: pages through $after");
        assert!(rows(&out["pages"][endpoint]).len() > 1, "{endpoint}: paged");
        let errors = &out["errors"][endpoint];
        for (case, code, says) in [
            (
                "unknown field",
                "INVALID_ARGUMENT",
                "unknown field `no_such_column`",
            ),
            ("wrong type", "INVALID_ARGUMENT", "$filter"),
            ("malformed JSON", "INVALID_ARGUMENT", "not JSON"),
            ("oversized limit", "INVALID_ARGUMENT", "above the maximum"),
            ("bad cursor", "INVALID_ARGUMENT", "$after"),
        ] {
            assert_eq!(errors[case]["code"], code, "{endpoint} {case}: {errors}");
            let details = errors[case]["details"].as_str().unwrap_or_default();
            assert!(details.contains(says), "{endpoint} {case}: {details}");
        }
    }
    // sales_list rows are typed: the nullable `note` is absent for every third row.
    let notes: Vec<&Value> = out["typed"]["sales_list"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| &r["note"])
        .collect();
    assert!(notes.iter().any(|n| n.is_null()) && notes.iter().any(|n| n.is_string()));
    assert_eq!(
        out["errors"]["unknown endpoint"]["code"], "NOT_FOUND",
        "{}",
        out["errors"]
    );
    assert_eq!(out["endpoints"], json!(["by_country", "sales_list"]));
    assert_eq!(out["fields"]["primary_index"], json!(["id"]));
    for (service, status) in out["health"].as_object().into_iter().flatten() {
        assert_eq!(status, "SERVING", "health of `{service}`");
    }
    grpc_web_and_cors(running.grpc_port)?;
    let services = out["services"].to_string();
    for service in [
        "dozer.common.CommonGrpcService",
        "dozer.generated.by_country.ByCountryService",
        "dozer.generated.sales_list.SalesListService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.contains(service),
            "reflection lists {service}: {services}"
        );
    }
    Ok(())
}

#[test]
fn on_event_streams_committed_source_changes_through_a_filter() -> anyhow::Result<()> {
    // In this order, so that the pipeline stops before its database and folder go.
    let Started {
        _dir,
        mut oracle,
        running,
        stubs,
        address,
    } = start("grpc_events")?;

    // Two subscribers: every change, and only rows of Spain.
    let subscribe = |filter: Value, count: usize| {
        let mut spec = spec();
        spec["filter"] = filter;
        let mut child = spawn_client(
            &stubs,
            &["subscribe", &address, &spec.to_string(), &count.to_string()],
        )?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        anyhow::ensure!(first == "ready", "subscriber did not start: {first}");
        Ok::<_, anyhow::Error>((child, lines))
    };
    let (mut all, all_lines) = subscribe(Value::Null, 4)?;
    let (mut spain, spain_lines) = subscribe(json!({"country": "Spain"}), 4)?;

    let before = running.position();
    // Four transactions: an insert, an update that moves a row into Spain, one that moves a
    // Spanish row out of it, and a delete. Each is applied before the next is written: a
    // backlog would share a commit, and events are the net change per commit.
    for sql in [
        "INSERT INTO sales VALUES (100, 'Spain', 9.99, '2024-03-05 10:00', 'new')",
        "UPDATE sales SET country = 'Spain' WHERE id = 1",
        "UPDATE sales SET country = 'UK', amount = 1.50 WHERE id = 100",
        "DELETE FROM sales WHERE id = 2",
    ] {
        oracle.client.batch_execute(sql)?;
        catch_up(&mut oracle, &running)?;
    }

    let events = |lines: std::io::Lines<BufReader<std::process::ChildStdout>>| -> Vec<Value> {
        lines
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    };
    let all_events = events(all_lines);
    all.wait()?;
    let spain_events = events(spain_lines);
    spain.wait()?;

    let summary = |events: &[Value]| -> Vec<(String, Value, Value)> {
        events
            .iter()
            .map(|e| {
                (
                    e["typ"].as_str().unwrap_or("?").to_string(),
                    e["old"]["id"].clone(),
                    e["new"]["id"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        summary(&all_events),
        [
            ("INSERT".to_string(), Value::Null, json!(100)),
            ("UPDATE".to_string(), json!(1), json!(1)),
            ("UPDATE".to_string(), json!(100), json!(100)),
            ("DELETE".to_string(), json!(2), Value::Null),
        ],
        "{all_events:#?}"
    );
    // Through the filter: the insert, row 1 entering Spain, row 100 leaving it, and the
    // delete of row 2 (Spanish).
    assert_eq!(
        summary(&spain_events),
        [
            ("INSERT".to_string(), Value::Null, json!(100)),
            ("INSERT".to_string(), Value::Null, json!(1)),
            ("DELETE".to_string(), json!(100), Value::Null),
            ("DELETE".to_string(), json!(2), Value::Null),
        ],
        "{spain_events:#?}"
    );
    // Values are typed, and each event carries its commit, in commit order.
    assert_eq!(all_events[2]["new"]["amount"], "1.50");
    assert_eq!(all_events[2]["old"]["country"], "Spain");
    assert_eq!(all_events[0]["new"]["sold_at"], "2024-03-05T10:00:00Z");
    let commits: Vec<u64> = all_events
        .iter()
        .map(|e| {
            e["position"]["commit"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    assert!(
        commits.windows(2).all(|w| w[0] < w[1]) && commits[0] > before,
        "one commit per transaction, in order: {commits:?}"
    );
    for event in &all_events {
        assert_eq!(event["position"]["source"], "pg", "{event}");
        assert!(
            event["position"]["offset"]
                .as_str()
                .unwrap_or("")
                .contains('/'),
            "an LSN: {event}"
        );
    }
    Ok(())
}

/// One HTTP/1.1 exchange on a fresh connection (the server closes it after the response).
fn http1(port: u16, head: &str, body: &[u8]) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(head.replace('\n', "\r\n").as_bytes())?;
    stream.write_all(body)?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// What a browser does: a CORS preflight, then a gRPC-Web call over HTTP/1.1.
fn grpc_web_and_cors(port: u16) -> anyhow::Result<()> {
    let preflight = http1(
        port,
        "OPTIONS /dozer.common.CommonGrpcService/getEndpoints HTTP/1.1\nHost: localhost\n\
         Origin: http://example.com\nAccess-Control-Request-Method: POST\n\
         Access-Control-Request-Headers: content-type,x-grpc-web\nConnection: close\n\n",
        b"",
    )?;
    let lower = preflight.to_ascii_lowercase();
    assert!(
        lower.starts_with("http/1.1 200") && lower.contains("access-control-allow-origin"),
        "CORS preflight: {preflight}"
    );
    // An empty GetEndpointsRequest in one gRPC-Web frame: flag 0, length 0.
    let reply = http1(
        port,
        "POST /dozer.common.CommonGrpcService/getEndpoints HTTP/1.1\nHost: localhost\n\
         Origin: http://example.com\nContent-Type: application/grpc-web+proto\nX-Grpc-Web: 1\n\
         Content-Length: 5\nConnection: close\n\n",
        &[0, 0, 0, 0, 0],
    )?;
    assert!(reply.starts_with("HTTP/1.1 200"), "gRPC-Web: {reply}");
    assert!(
        reply.contains("by_country") && reply.contains("sales_list"),
        "gRPC-Web answer holds the endpoints: {reply}"
    );
    assert!(
        reply.contains("grpc-status:0"),
        "gRPC-Web trailers: {reply}"
    );
    Ok(())
}

fn free_port() -> u16 {
    dozer_e2e::pipeline::free_port()
}
