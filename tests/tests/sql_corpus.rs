//! The differential SQL corpus over one Postgres table (see `dozer_e2e::corpus`): scalar
//! functions, CASE, IN, BETWEEN, LIKE, casts, EXTRACT, DATE_TRUNC and intervals in projections,
//! filters, group keys, aggregate arguments and HAVING; DISTINCT; WITH and subqueries in FROM. Every statement is an endpoint of one generated
//! crate and must equal Postgres after the snapshot and after each round of random changes.
//!
//! `DOZER_CORPUS_SEED=<n>` replays a failing run's data.

use dozer_e2e::corpus::{compare_all, config, queries, Items, ITEMS_TABLE};
use dozer_e2e::oracle::Oracle;
use dozer_e2e::pipeline::{build, free_port, Running};

const SCALAR: &[&str] = &[
    // CASE, COALESCE, NULLIF, IS NULL
    "SELECT id, CASE WHEN qty > 10 THEN 'many' WHEN qty > 0 THEN 'some' ELSE 'none' END AS v FROM items",
    "SELECT id, CASE category WHEN 'fruit' THEN 1 WHEN 'drink' THEN 2 END AS v FROM items",
    "SELECT id, CASE WHEN active THEN price ELSE 0 END AS v FROM items",
    "SELECT id, CASE WHEN qty IS NULL THEN weight ELSE qty END AS v FROM items",
    "SELECT id, CASE WHEN name ILIKE '%apple%' THEN 'apple' WHEN name LIKE '%a%' THEN 'has a' END AS v FROM items",
    "SELECT id, CASE WHEN price > 50 THEN ROUND(price * qty, 1) ELSE NULL END AS v FROM items",
    "SELECT id, CASE WHEN qty < 0 THEN CASE WHEN active THEN 'neg on' ELSE 'neg off' END ELSE category END AS v FROM items",
    "SELECT id, COALESCE(name, category, 'unknown') AS v FROM items",
    "SELECT id, COALESCE(qty, 0) + COALESCE(price, 0) AS v FROM items",
    "SELECT id, COALESCE(weight, qty, price) AS v FROM items",
    "SELECT id, NULLIF(qty, 0) AS v FROM items",
    "SELECT id, NULLIF(category, 'fruit') AS v FROM items",
    "SELECT id, qty IS NULL AS v FROM items",
    "SELECT id, name IS NOT NULL AND price IS NULL AS v FROM items",
    // BETWEEN, IN
    "SELECT id, qty BETWEEN 0 AND 10 AS v FROM items",
    "SELECT id, qty NOT BETWEEN 0 AND 10 AS v FROM items",
    "SELECT id, price BETWEEN 10 AND 20.5 AS v FROM items",
    "SELECT id, created BETWEEN '2024-03-01' AND '2024-06-30 23:59:59' AS v FROM items",
    "SELECT id, name BETWEEN 'B' AND 'm' AS v FROM items",
    "SELECT id, name FROM items WHERE category IN ('fruit', 'drink')",
    "SELECT id, name FROM items WHERE category NOT IN ('fruit', 'drink')",
    "SELECT id, qty IN (1, 2, 3, NULL) AS v FROM items",
    "SELECT id, qty NOT IN (1, 2, NULL) AS v FROM items",
    "SELECT id, price IN (10, 20.5, 33.33) AS v FROM items",
    "SELECT id, EXTRACT(MONTH FROM created) IN (1, 6, 12) AS v FROM items",
    // LIKE, ILIKE
    "SELECT id, name LIKE 'a%' AS v FROM items",
    "SELECT id, name LIKE '%an%' AS v FROM items",
    "SELECT id, name ILIKE 'a%' AS v FROM items",
    "SELECT id, name NOT LIKE '_pple%' AS v FROM items",
    "SELECT id, name LIKE '%!%' ESCAPE '!' AS v FROM items",
    "SELECT id, name LIKE '%\\_%' AS v FROM items",
    "SELECT id, note NOT ILIKE '%SALE%' AS v FROM items",
    "SELECT id, note LIKE 'a$_b%' ESCAPE '$' AS v FROM items",
    "SELECT id, COALESCE(note, name) LIKE '%e%' AS v FROM items",
    // strings
    "SELECT id, LENGTH(name) AS v FROM items",
    "SELECT id, CHAR_LENGTH(note) AS v FROM items",
    "SELECT id, UPPER(name) AS v FROM items",
    "SELECT id, LOWER(category) AS v FROM items",
    "SELECT id, CONCAT(name, '-', qty, '-', price, '-', active) AS v FROM items",
    "SELECT id, CONCAT(day, '/', created) AS v FROM items",
    "SELECT id, name || '/' || category AS v FROM items",
    "SELECT id, SUBSTRING(name FROM 2 FOR 3) AS v FROM items",
    "SELECT id, SUBSTRING(name, 0, 3) AS v FROM items",
    "SELECT id, SUBSTRING(note FROM 3) AS v FROM items",
    "SELECT id, SUBSTR(name, 2) AS v FROM items",
    "SELECT id, TRIM(name) AS v FROM items",
    "SELECT id, TRIM(LEADING 'x' FROM note) AS v FROM items",
    "SELECT id, TRIM(BOTH 'x ' FROM note) AS v FROM items",
    "SELECT id, TRIM(TRAILING FROM name) AS v FROM items",
    "SELECT id, RTRIM(note) AS v FROM items",
    "SELECT id, LTRIM(note, ' x') AS v FROM items",
    "SELECT id, BTRIM(name) AS v FROM items",
    "SELECT id, REPLACE(name, 'a', 'A') AS v FROM items",
    "SELECT id, REPLACE(note, '', 'z') AS v FROM items",
    "SELECT id, POSITION('a' IN name) AS v FROM items",
    "SELECT id, STRPOS(note, 'e') AS v FROM items",
    "SELECT id, UPPER(TRIM(name)) || '!' AS v FROM items WHERE LENGTH(TRIM(name)) > 3",
    // numbers
    "SELECT id, ABS(qty) AS v FROM items",
    "SELECT id, ABS(price - 50) AS v FROM items",
    "SELECT id, ABS(weight - 20) AS v FROM items",
    "SELECT id, ROUND(price) AS v FROM items",
    "SELECT id, ROUND(price, 1) AS v FROM items",
    "SELECT id, ROUND(price * 1.005, 2) AS v FROM items",
    "SELECT id, ROUND(price, -1) AS v FROM items",
    "SELECT id, ROUND(weight) AS v FROM items",
    "SELECT id, ROUND(qty) AS v FROM items",
    "SELECT id, CEIL(price) AS v FROM items",
    "SELECT id, CEILING(weight) AS v FROM items",
    "SELECT id, FLOOR(weight) AS v FROM items",
    "SELECT id, FLOOR(price - 50) AS v FROM items",
    "SELECT id, CEIL(qty) AS v FROM items",
    "SELECT id, qty % 7 AS v FROM items",
    "SELECT id, qty / 3 AS v FROM items",
    "SELECT id, price / 3 AS v FROM items",
    "SELECT id, qty / NULLIF(qty % 4, 0) AS v FROM items",
    "SELECT id, -qty * price AS v FROM items",
    // casts
    "SELECT id, CAST(qty AS TEXT) AS v FROM items",
    "SELECT id, CAST(price AS INT) AS v FROM items",
    "SELECT id, CAST(weight AS BIGINT) AS v FROM items",
    "SELECT id, CAST(price AS FLOAT) AS v FROM items",
    "SELECT id, CAST(qty AS NUMERIC) / 4 AS v FROM items",
    "SELECT id, CAST(active AS TEXT) AS v FROM items",
    "SELECT id, CAST(created AS DATE) AS v FROM items",
    "SELECT id, CAST(day AS TIMESTAMP) AS v FROM items",
    "SELECT id, CAST(price AS TEXT) AS v FROM items",
    "SELECT id, CAST(day AS TEXT) AS v FROM items",
    "SELECT id, CAST(weight AS TEXT) AS v FROM items",
    "SELECT id, CAST(CAST(qty AS TEXT) AS INT) + 1 AS v FROM items",
    "SELECT id, CAST('12.50' AS NUMERIC) + price AS v FROM items",
    // dates and times
    "SELECT id, EXTRACT(YEAR FROM created) AS v FROM items",
    "SELECT id, EXTRACT(MONTH FROM created) AS v FROM items",
    "SELECT id, EXTRACT(DAY FROM day) AS v FROM items",
    "SELECT id, EXTRACT(DOW FROM created) AS v FROM items",
    "SELECT id, EXTRACT(ISODOW FROM day) AS v FROM items",
    "SELECT id, EXTRACT(DOY FROM created) AS v FROM items",
    "SELECT id, EXTRACT(QUARTER FROM day) AS v FROM items",
    "SELECT id, EXTRACT(WEEK FROM created) AS v FROM items",
    "SELECT id, EXTRACT(HOUR FROM created) AS v FROM items",
    "SELECT id, EXTRACT(MINUTE FROM created) AS v FROM items",
    "SELECT id, EXTRACT(SECOND FROM created) AS v FROM items",
    "SELECT id, EXTRACT(EPOCH FROM created) AS v FROM items",
    "SELECT id, EXTRACT(EPOCH FROM day) AS v FROM items",
    "SELECT id, EXTRACT(CENTURY FROM day) AS v FROM items",
    "SELECT id, DATE_PART('day', created) AS v FROM items",
    "SELECT id, DATE_TRUNC('month', created) AS v FROM items",
    "SELECT id, DATE_TRUNC('week', created) AS v FROM items",
    "SELECT id, DATE_TRUNC('hour', created) AS v FROM items",
    "SELECT id, DATE_TRUNC('quarter', created) AS v FROM items",
    "SELECT id, DATE_TRUNC('year', created) AS v FROM items",
    "SELECT id, DATE_TRUNC('month', day) AS v FROM items",
    "SELECT id, created > '2024-06-01' AS v FROM items",
    "SELECT id, day < DATE '2023-07-01' AS v FROM items",
    "SELECT id, created >= TIMESTAMP '2024-01-15 12:00:00' AS v FROM items",
    // JSON access
    "SELECT id, attrs ->> 'color' AS v FROM items",
    "SELECT id, attrs -> 'dims' ->> 'w' AS v FROM items",
    "SELECT id, attrs -> 'dims' ->> 'h' AS v FROM items",
    "SELECT id, attrs -> 'tags' ->> 0 AS v FROM items",
    "SELECT id, attrs -> 'tags' ->> -1 AS v FROM items",
    "SELECT id, attrs ->> 'dims' AS v FROM items",
    "SELECT id, attrs ->> 'tags' AS v FROM items",
    "SELECT id, CAST(attrs ->> 'size' AS INT) * qty AS v FROM items",
    "SELECT id, name FROM items WHERE attrs ->> 'color' = 'red'",
    // logic and filters
    "SELECT id, (qty > 5) OR (price < 10) AS v FROM items",
    "SELECT id, NOT (active AND qty > 0) AS v FROM items",
    "SELECT id, name FROM items WHERE qty > 5 AND price IS NOT NULL",
    "SELECT id, name FROM items WHERE COALESCE(active, false)",
    "SELECT id, qty FROM items WHERE name LIKE '%a%' OR category IN ('snack')",
    "SELECT id, price FROM items WHERE EXTRACT(MONTH FROM created) BETWEEN 4 AND 9",
    // intervals and date arithmetic
    "SELECT id, created + INTERVAL '1 day' AS v FROM items",
    "SELECT id, created - INTERVAL '2 hours 30 minutes' AS v FROM items",
    "SELECT id, created + INTERVAL '1 month' AS v FROM items",
    "SELECT id, INTERVAL '1 year' + created AS v FROM items",
    "SELECT id, day + INTERVAL '36 hours' AS v FROM items",
    "SELECT id, day + 30 AS v FROM items",
    "SELECT id, day - 7 AS v FROM items",
    "SELECT id, DATE '2024-01-01' - day AS v FROM items",
    "SELECT id, name FROM items WHERE created > TIMESTAMP '2024-12-31' - INTERVAL '90 days'",
    "SELECT id, created + INTERVAL '90 m' - INTERVAL '1 hr' AS v FROM items",
    // literals take the other values' type; untyped NULLs; narrow integer casts
    "SELECT id, COALESCE(day, '2023-06-01') AS v FROM items",
    "SELECT id, day IN ('2023-01-05', '2023-02-10', '2023-03-15') AS v FROM items",
    "SELECT id, CASE WHEN active THEN created ELSE '2024-01-01 00:00:00' END AS v FROM items",
    "SELECT id, CONCAT(NULL, name, NULL) AS v FROM items",
    "SELECT id, ABS(NULL) IS NULL AS v FROM items",
    "SELECT id, CAST(qty AS SMALLINT) + CAST(qty AS INT) AS v FROM items",
];

const AGGREGATE: &[&str] = &[
    "SELECT category, SUM(CASE WHEN active THEN qty ELSE 0 END) AS v FROM items GROUP BY category",
    "SELECT category, COUNT(NULLIF(qty, 0)) AS v FROM items GROUP BY category",
    "SELECT UPPER(category) AS k, COUNT(*) AS v FROM items GROUP BY UPPER(category)",
    "SELECT EXTRACT(MONTH FROM created) AS k, SUM(price) AS v FROM items GROUP BY EXTRACT(MONTH FROM created)",
    "SELECT DATE_TRUNC('quarter', created) AS k, MAX(price) AS v, MIN(qty) AS w FROM items GROUP BY DATE_TRUNC('quarter', created)",
    "SELECT category, AVG(COALESCE(price, 0)) AS v FROM items GROUP BY category",
    "SELECT qty BETWEEN 0 AND 10 AS k, COUNT(*) AS v FROM items GROUP BY qty BETWEEN 0 AND 10",
    "SELECT category, SUM(qty) AS v FROM items WHERE name LIKE '%a%' GROUP BY category HAVING COUNT(*) > 2",
    "SELECT category, CASE WHEN SUM(qty) > 100 THEN 'big' ELSE 'small' END AS v FROM items GROUP BY category",
    "SELECT LENGTH(name) AS k, COUNT(*) AS v FROM items GROUP BY LENGTH(name)",
    "SELECT COALESCE(category, 'none') AS k, ROUND(AVG(price), 2) AS v FROM items GROUP BY COALESCE(category, 'none')",
    "SELECT category, MAX(UPPER(name)) AS v FROM items GROUP BY category",
    "SELECT category, MIN(created) AS v, MAX(day) AS w FROM items GROUP BY category",
    "SELECT category, SUM(CASE WHEN qty % 2 = 0 THEN 1 ELSE 0 END) AS v FROM items GROUP BY category",
    "SELECT EXTRACT(YEAR FROM day) AS k, COUNT(*) AS v FROM items GROUP BY EXTRACT(YEAR FROM day)",
    "SELECT active, SUM(ROUND(price)) AS v, COUNT(price) AS n FROM items GROUP BY active",
    "SELECT SUBSTRING(name FROM 1 FOR 1) AS k, COUNT(*) AS v FROM items GROUP BY SUBSTRING(name FROM 1 FOR 1)",
    "SELECT category, SUM(qty) AS v FROM items GROUP BY category HAVING SUM(qty) BETWEEN 10 AND 500",
    "SELECT category, COUNT(*) AS v FROM items GROUP BY category HAVING MAX(name) LIKE '%a%'",
    "SELECT COUNT(*) AS v, SUM(CASE WHEN note IS NULL THEN 1 END) AS nulls FROM items",
    "SELECT attrs ->> 'color' AS k, SUM(CAST(attrs ->> 'size' AS BIGINT)) AS v, COUNT(attrs -> 'tags' ->> 0) AS n FROM items GROUP BY attrs ->> 'color'",
    // DISTINCT
    "SELECT DISTINCT category FROM items",
    "SELECT DISTINCT category, active FROM items WHERE qty > 0",
    "SELECT DISTINCT UPPER(name) AS k FROM items",
    "SELECT DISTINCT category, COUNT(*) AS v FROM items GROUP BY category",
    "SELECT category, COUNT(DISTINCT name) AS v FROM items GROUP BY category",
    "SELECT category, SUM(DISTINCT qty) AS v, AVG(DISTINCT qty) AS w FROM items GROUP BY category",
    "SELECT COUNT(DISTINCT category) AS v, COUNT(DISTINCT EXTRACT(MONTH FROM created)) AS w FROM items",
    "SELECT active, COUNT(DISTINCT day) AS v, MAX(DISTINCT price) AS w FROM items GROUP BY active",
    // Dozer's MAX_VALUE / MIN_VALUE: the value at the extreme, ties to the greatest value
    "SELECT category, MAX_VALUE(qty, name) AS v FROM items GROUP BY category ||| \
     SELECT category, (array_agg(name ORDER BY qty DESC, name DESC NULLS LAST) FILTER (WHERE qty IS NOT NULL))[1] AS v FROM items GROUP BY category",
    "SELECT active, MIN_VALUE(created, price) AS v FROM items GROUP BY active ||| \
     SELECT active, (array_agg(price ORDER BY created ASC, price DESC NULLS LAST) FILTER (WHERE created IS NOT NULL))[1] AS v FROM items GROUP BY active",
    // WITH and subqueries in FROM
    "WITH pos AS (SELECT id, qty, price FROM items WHERE qty > 0) SELECT id, qty * price AS v {INTO} FROM pos",
    "WITH c AS (SELECT category, SUM(qty) AS total FROM items GROUP BY category) SELECT category, total * 2 AS v {INTO} FROM c WHERE total > 0",
    "SELECT k, COUNT(*) AS v {INTO} FROM (SELECT UPPER(category) AS k, id FROM items) s GROUP BY k",
    "WITH a AS (SELECT id, name, qty FROM items WHERE active), b AS (SELECT name, SUM(qty) AS q FROM a GROUP BY name) SELECT name, q {INTO} FROM b WHERE q > 10",
    "SELECT n, COUNT(*) AS v {INTO} FROM (SELECT category, COUNT(*) AS n FROM items GROUP BY category) s GROUP BY n",
];

#[test]
fn scalar_functions_and_forms_equal_postgres_under_changes() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("DOZER_CORPUS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261125);
    let bodies: Vec<&str> = SCALAR.iter().chain(AGGREGATE).copied().collect();
    let queries = queries(&bodies);

    let mut oracle = Oracle::new("corpus")?;
    let mut items = Items::new(seed);
    oracle
        .client
        .batch_execute(&format!("{ITEMS_TABLE} {}", items.initial(150)))?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("dozer-config.yaml");
    std::fs::write(&config_path, config("sql_corpus", oracle.name(), &queries))?;
    let built = build(&config_path, &dir.path().join("build"))?;
    let running = Running::start(&built.binary, &dir.path().join("home"), free_port())?;

    let mut report = compare_all(
        &mut oracle,
        running.port,
        &queries,
        "after the snapshot",
        seed,
    )?;
    for round in 1..=4 {
        for _ in 0..40 {
            oracle.client.batch_execute(&items.transaction())?;
        }
        report.push_str(&compare_all(
            &mut oracle,
            running.port,
            &queries,
            &format!("after change round {round}"),
            seed,
        )?);
    }
    anyhow::ensure!(
        report.is_empty(),
        "{} statements; differences:\n{report}\nlog:\n{}",
        queries.len(),
        running.log_text()
    );
    Ok(())
}
