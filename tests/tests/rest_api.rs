//! The REST routes over a running pipeline: lookups, queries, counts and bad requests.

use dozer_e2e::ecommerce::{sample_csv, Scratch, SALES_TABLE};
use dozer_e2e::http::{get, get_raw, post_raw};
use dozer_e2e::oracle::Oracle;
use dozer_e2e::pipeline::free_port;
use std::time::Duration;

#[test]
fn routes_answer_like_dozer() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    scratch.add_file("sales-0001.csv", &std::fs::read(sample_csv())?)?;
    let running = scratch.start(free_port())?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;
    let port = running.port;

    let mut oracle = Oracle::new("ecommerce_rest")?;
    oracle.client.batch_execute(SALES_TABLE)?;
    oracle.copy_csv("sales_data", &sample_csv())?;

    // GET /path: the first 50 records.
    let page = get(port, "/sales_by_country")?;
    let countries = oracle.rows("SELECT COUNT(DISTINCT Country) AS n FROM sales_data")?;
    let expected = countries[0]["n"]
        .as_deref()
        .unwrap_or("0")
        .parse::<usize>()?
        .min(50);
    assert_eq!(page.as_array().map(Vec::len), Some(expected));

    // GET /path/{id}: by primary key, 404 when absent.
    let uk = get(port, "/sales_by_country/United%20Kingdom")?;
    let total = oracle.rows("SELECT SUM(Quantity*UnitPrice)::text AS t FROM sales_data WHERE Country = 'United Kingdom'")?;
    let expected: rust_decimal::Decimal = total[0]["t"].as_deref().unwrap_or("0").parse()?;
    let served: rust_decimal::Decimal = uk["TotalSales"].as_str().unwrap_or("x").parse()?;
    assert_eq!(served, expected);
    let (status, body) = get_raw(port, "/sales_by_country/Atlantis")?;
    assert_eq!(status, 404, "{body}");

    // POST /path/query with a filter, order and limit; /count with the same filter.
    let (status, body) = post_raw(
        port,
        "/clv/query",
        r#"{"$filter": {"LifetimeValue": {"$gt": 1000}}, "$order_by": {"LifetimeValue": "desc"}, "$limit": 5}"#,
    )?;
    assert_eq!(status, 200, "{body}");
    let rows = body.as_array().cloned().unwrap_or_default();
    let values: Vec<rust_decimal::Decimal> = rows
        .iter()
        .filter_map(|r| r["LifetimeValue"].as_str())
        .filter_map(|v| v.parse().ok())
        .collect();
    let top = oracle.rows("SELECT SUM(Quantity*UnitPrice)::text AS v FROM sales_data GROUP BY CustomerID HAVING SUM(Quantity*UnitPrice) > 1000 ORDER BY SUM(Quantity*UnitPrice) DESC LIMIT 5")?;
    let expected: Vec<rust_decimal::Decimal> = top
        .iter()
        .filter_map(|r| r["v"].as_deref())
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(values, expected);

    let (status, count) = post_raw(
        port,
        "/clv/count",
        r#"{"$filter": {"LifetimeValue": {"$gt": 1000}}}"#,
    )?;
    assert_eq!(status, 200);
    let expected = oracle.rows("SELECT COUNT(*) AS n FROM (SELECT CustomerID FROM sales_data GROUP BY CustomerID HAVING SUM(Quantity*UnitPrice) > 1000) q")?;
    assert_eq!(
        count.as_u64().map(|n| n.to_string()),
        expected[0]["n"].clone()
    );

    // Malformed requests: 400 with a JSON error naming the bad part.
    let (status, body) = post_raw(port, "/clv/query", "{not json")?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("JSON")),
        "{body}"
    );
    let (status, body) = post_raw(port, "/clv/query", r#"{"$filter": {"Nope": 1}}"#)?;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("Nope"), "{body}");

    // Discovery routes.
    let endpoints = get(port, "/")?;
    assert_eq!(endpoints.as_array().map(Vec::len), Some(4));
    let openapi = get(port, "/openapi.json")?;
    assert!(
        openapi["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{openapi}"
    );
    Ok(())
}
