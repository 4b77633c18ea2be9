//! The differential join corpus over four related Postgres tables (`dozer_e2e::shop`):
//! INNER, LEFT, RIGHT and FULL joins, chains of three and four tables, self-joins, ON
//! conditions over one side or both, joins of WITH queries and subqueries, aggregations over
//! joins, and UNION / UNION ALL; then a generated matrix of every join kind over five pairs of
//! tables (projections, filters, grouped counts and sums, ON conditions on either side) and
//! over the three-table chain with every pair of kinds. Every statement is an endpoint of one generated crate and must equal Postgres
//! after the snapshot and after each round of random changes to all four tables (including
//! changed join keys, changed primary keys and dangling references).
//!
//! `DOZER_CORPUS_SEED=<n>` replays a failing run's data.

use dozer_e2e::corpus::{self, Corpus};
use dozer_e2e::shop::{Shop, SHOP_SCHEMA, SHOP_TABLES};

/// Projections over joins: one row per joined pair (or NULL-padded row).
const PROJECTIONS: &[&str] = &[
    // INNER
    "SELECT o.id, c.name FROM orders o JOIN customers c ON o.customer_id = c.id",
    "SELECT o.id, c.name, o.status FROM orders o INNER JOIN customers c ON c.id = o.customer_id WHERE o.status <> 'cancelled'",
    "SELECT c.id AS cid, o.id AS oid FROM customers c JOIN orders o ON o.customer_id = c.id AND c.tier > 1",
    "SELECT o.id, c.country FROM orders o JOIN customers c ON o.customer_id = c.id AND o.status = 'paid'",
    "SELECT o.id, c.id AS cid FROM orders o JOIN customers c ON o.customer_id = c.id AND o.discount * 10 < c.tier",
    "SELECT l.order_id, l.line, p.name, l.qty * p.price AS amount FROM order_lines l JOIN products p ON l.product_id = p.id",
    "SELECT l.order_id, l.line, p.category FROM order_lines l JOIN products p ON l.product_id = p.id WHERE p.price > 10 AND l.qty > 0",
    "SELECT o.*, c.name AS cname FROM orders o JOIN customers c ON o.customer_id = c.id",
    "SELECT c.*, o.status FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.discount > 0.1",
    "SELECT UPPER(c.name) AS n, LOWER(o.status) AS s FROM orders o JOIN customers c ON o.customer_id = c.id",
    "SELECT o.id, CASE WHEN c.tier >= 2 THEN o.discount * 2 ELSE o.discount END AS d FROM orders o JOIN customers c ON o.customer_id = c.id",
    "SELECT c.id AS cid, o.id AS oid FROM customers c JOIN orders o ON UPPER(c.country) = 'UK' AND o.customer_id = c.id",
    "SELECT o.id, c.id AS cid FROM orders o JOIN customers c ON o.customer_id = c.id AND (o.status = 'new' OR c.tier = 0)",
    "SELECT c.id AS cid, o.id AS oid FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.name LIKE '%a%' OR o.status LIKE 'p%'",
    "SELECT o.id, o.discount * c.tier AS x FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.tier BETWEEN 1 AND 2",
    "SELECT l.order_id, l.line, o.status FROM order_lines l JOIN orders o ON l.order_id = o.id",
    "SELECT orders.id, customers.name FROM orders JOIN customers ON orders.customer_id = customers.id",
    "SELECT status, country FROM orders JOIN customers ON customer_id = customers.id",
    "SELECT O.id, C.name FROM orders O JOIN customers C ON O.customer_id = C.id",
    // join keys of other types, and of expressions
    "SELECT p.id, l.line FROM products p JOIN order_lines l ON ROUND(p.price) = l.qty",
    "SELECT c.id AS cid, l.line FROM customers c JOIN order_lines l ON c.tier = l.qty AND c.id < 20",
    "SELECT a.id AS a, b.id AS b FROM customers a JOIN customers b ON a.signup = b.signup AND a.id <> b.id",
    "SELECT a.id AS a, b.id AS b FROM orders a JOIN orders b ON DATE_TRUNC('month', a.placed) = DATE_TRUNC('month', b.placed) AND a.customer_id = b.customer_id AND a.id < b.id",
    "SELECT a.id AS a, b.id AS b FROM customers a JOIN customers b ON UPPER(a.country) = UPPER(b.country) AND a.id < b.id",
    // self-joins
    "SELECT a.id AS a, b.id AS b FROM customers a JOIN customers b ON a.name = b.name AND a.tier = b.tier",
    "SELECT x.order_id, x.line AS l1, y.line AS l2 FROM order_lines x JOIN order_lines y ON x.order_id = y.order_id AND x.product_id = y.product_id AND x.line < y.line",
    "SELECT x.order_id, x.line FROM order_lines x JOIN order_lines y ON x.order_id = y.order_id AND x.line = y.line AND x.qty = y.qty",
    // LEFT
    "SELECT c.id, o.id AS oid FROM customers c LEFT JOIN orders o ON o.customer_id = c.id",
    "SELECT c.id, o.status FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.status = 'paid'",
    "SELECT c.id, o.id AS oid FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND c.tier > 1",
    "SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL",
    "SELECT o.id, COALESCE(c.name, 'guest') AS who FROM orders o LEFT JOIN customers c ON o.customer_id = c.id",
    "SELECT l.order_id, l.line, p.price FROM order_lines l LEFT JOIN products p ON l.product_id = p.id WHERE p.price IS NULL OR p.price > 20",
    "SELECT o.id, c.country, c.tier FROM orders o LEFT OUTER JOIN customers c ON o.customer_id = c.id AND c.country IN ('UK', 'FR')",
    "SELECT c.id, o.id AS oid FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND 1 = 0",
    "SELECT c.id, o.discount IS NULL AS no_order, COALESCE(o.discount, 0) + 1 AS d FROM customers c LEFT JOIN orders o ON o.customer_id = c.id",
    "SELECT o.id, c.name || '/' || o.status AS label FROM orders o LEFT JOIN customers c ON c.id = o.customer_id",
    "SELECT l.order_id, l.line, CASE WHEN p.id IS NULL THEN 'unknown' ELSE p.category END AS cat FROM order_lines l LEFT JOIN products p ON p.id = l.product_id",
    // RIGHT
    "SELECT o.id AS oid, c.id AS cid FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id",
    "SELECT p.name, l.qty FROM order_lines l RIGHT JOIN products p ON l.product_id = p.id AND l.qty > 2",
    "SELECT c.name, o.id AS oid FROM orders o RIGHT OUTER JOIN customers c ON c.id = o.customer_id WHERE c.tier IS NOT NULL",
    "SELECT o.id AS oid, c.id AS cid FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id AND o.discount > 0.1",
    // FULL
    "SELECT o.id AS oid, c.id AS cid FROM orders o FULL JOIN customers c ON o.customer_id = c.id",
    "SELECT COALESCE(o.customer_id, c.id) AS k, o.status, c.name FROM orders o FULL OUTER JOIN customers c ON o.customer_id = c.id AND o.status <> 'cancelled'",
    "SELECT l.line, p.id AS pid FROM order_lines l FULL JOIN products p ON l.product_id = p.id AND p.category = 'fruit'",
    "SELECT a.id AS a, b.id AS b FROM customers a FULL JOIN customers b ON a.country = b.country AND a.tier = 0 AND b.tier = 3",
    "SELECT o.id AS oid, c.id AS cid FROM orders o FULL JOIN customers c ON o.customer_id = c.id AND o.status = 'paid' AND c.tier > 0",
    "SELECT o.id, CONCAT(c.name, ':', c.country) AS label FROM orders o FULL JOIN customers c ON c.id = o.customer_id",
    // chains of three and four tables
    "SELECT o.id, c.name, l.line, l.qty FROM orders o JOIN customers c ON o.customer_id = c.id JOIN order_lines l ON l.order_id = o.id",
    "SELECT l.order_id, l.line, p.name, o.status FROM order_lines l JOIN products p ON l.product_id = p.id JOIN orders o ON o.id = l.order_id",
    "SELECT c.name, p.name AS product, l.qty FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id",
    "SELECT c.id, o.id AS oid, l.line FROM customers c LEFT JOIN orders o ON o.customer_id = c.id LEFT JOIN order_lines l ON l.order_id = o.id",
    "SELECT o.id, l.line, p.id AS pid FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id LEFT JOIN products p ON p.id = l.product_id AND p.price > 5",
    "SELECT c.id AS cid, o.id AS oid, l.line FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id LEFT JOIN order_lines l ON l.order_id = o.id",
    "SELECT o.id AS oid, c.id AS cid, l.line FROM orders o FULL JOIN customers c ON o.customer_id = c.id FULL JOIN order_lines l ON l.order_id = o.id",
    "SELECT o.id, c.country, p.category FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = l.product_id WHERE c.country = 'UK' AND p.category <> 'dairy'",
    "SELECT o.id, l.line FROM orders o JOIN customers c ON o.customer_id = c.id JOIN order_lines l ON l.order_id = o.id AND l.qty > c.tier",
    "SELECT c.id, o.id AS oid, l.line FROM customers c LEFT JOIN orders o ON o.customer_id = c.id JOIN order_lines l ON l.order_id = o.id",
    "SELECT l.line, o.id AS oid, c.id AS cid FROM order_lines l JOIN orders o ON o.id = l.order_id RIGHT JOIN customers c ON c.id = o.customer_id",
    // joins of WITH queries and subqueries
    "WITH spend AS (SELECT o.customer_id, SUM(l.qty * p.price) AS total FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id GROUP BY o.customer_id) SELECT c.name, s.total {INTO} FROM customers c JOIN spend s ON s.customer_id = c.id",
    "SELECT c.id, t.n {INTO} FROM customers c LEFT JOIN (SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id) t ON t.customer_id = c.id",
    "WITH big AS (SELECT id, customer_id FROM orders WHERE discount >= 0.2) SELECT b.id, c.country {INTO} FROM big b JOIN customers c ON c.id = b.customer_id",
    "SELECT x.country, x.n, y.n AS m {INTO} FROM (SELECT country, COUNT(*) AS n FROM customers GROUP BY country) x FULL JOIN (SELECT c.country, COUNT(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.country) y ON x.country = y.country",
    "SELECT c.id, c.name {INTO} FROM customers c JOIN (SELECT DISTINCT customer_id FROM orders WHERE status = 'paid') p ON p.customer_id = c.id",
];

/// Aggregations over joins.
const AGGREGATIONS: &[&str] = &[
    "SELECT c.country, COUNT(*) AS n FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY c.country",
    "SELECT c.country, SUM(l.qty * p.price) AS revenue FROM order_lines l JOIN products p ON l.product_id = p.id JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
    "SELECT p.category, SUM(l.qty) AS units, COUNT(DISTINCT l.order_id) AS orders FROM order_lines l JOIN products p ON l.product_id = p.id GROUP BY p.category",
    "SELECT c.id, COUNT(o.id) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id",
    "SELECT c.id, COALESCE(SUM(l.qty), 0) AS units FROM customers c LEFT JOIN orders o ON o.customer_id = c.id LEFT JOIN order_lines l ON l.order_id = o.id GROUP BY c.id",
    "SELECT o.status, ROUND(AVG(p.price), 4) AS avg_price, MAX(p.price) AS max_price, MIN(l.qty) AS min_qty FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id GROUP BY o.status",
    "SELECT c.tier, COUNT(DISTINCT o.customer_id) AS buyers FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status = 'paid' GROUP BY c.tier",
    "SELECT COUNT(*) AS n, SUM(l.qty) AS q FROM order_lines l JOIN products p ON l.product_id = p.id",
    "SELECT p.name, SUM(l.qty) AS units FROM products p JOIN order_lines l ON l.product_id = p.id GROUP BY p.name HAVING SUM(l.qty) > 10",
    "SELECT o.customer_id, COUNT(*) AS lines FROM orders o JOIN order_lines l ON l.order_id = o.id GROUP BY o.customer_id",
    "SELECT c.country, p.category, SUM(l.qty) AS units FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id GROUP BY c.country, p.category",
    "SELECT COUNT(o.id) AS orders, COUNT(c.id) AS customers, COUNT(*) AS pairs FROM orders o FULL JOIN customers c ON o.customer_id = c.id",
    "SELECT c.country, COUNT(*) AS n FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id AND o.status = 'shipped' GROUP BY c.country",
    "SELECT EXTRACT(MONTH FROM o.placed) AS m, SUM(l.qty) AS units FROM orders o JOIN order_lines l ON l.order_id = o.id GROUP BY EXTRACT(MONTH FROM o.placed)",
    "SELECT c.name, MAX(o.placed) AS last_order FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
    "SELECT DISTINCT c.country FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status = 'paid'",
    "SELECT DISTINCT p.category, o.status FROM order_lines l JOIN products p ON p.id = l.product_id JOIN orders o ON o.id = l.order_id",
    "SELECT a.country, COUNT(*) AS pairs FROM customers a JOIN customers b ON a.country = b.country GROUP BY a.country",
    "SELECT c.id, MAX_VALUE(o.placed, o.id) AS latest FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id ||| \
     SELECT c.id, (array_agg(o.id ORDER BY o.placed DESC, o.id DESC NULLS LAST) FILTER (WHERE o.placed IS NOT NULL))[1] AS latest FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id",
    "WITH per_order AS (SELECT order_id, SUM(qty) AS q FROM order_lines GROUP BY order_id) SELECT o.status, SUM(po.q) AS units {INTO} FROM orders o JOIN per_order po ON po.order_id = o.id GROUP BY o.status",
    "SELECT c.country, SUM(l.qty) AS units, COUNT(l.line) AS lines FROM order_lines l JOIN orders o ON o.id = l.order_id RIGHT JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
    "SELECT p.category, COUNT(*) AS n, SUM(CASE WHEN o.status = 'cancelled' THEN l.qty END) AS cancelled FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN products p ON p.id = l.product_id GROUP BY p.category",
    "SELECT c.id, COUNT(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id HAVING COUNT(*) >= 2",
    "SELECT o.id, SUM(l.qty * p.price * (1 - o.discount)) AS net FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id GROUP BY o.id",
    "SELECT COUNT(*) AS n FROM customers a JOIN customers b ON a.id = b.id",
    "SELECT o.status, COUNT(*) AS n, COUNT(c.id) AS known FROM orders o LEFT JOIN customers c ON c.id = o.customer_id GROUP BY o.status",
    "SELECT p.id, COUNT(l.line) AS lines, SUM(l.qty) AS units FROM products p LEFT JOIN order_lines l ON l.product_id = p.id GROUP BY p.id",
];

/// UNION ALL and UNION, over the same tables.
const UNIONS: &[&str] = &[
    "SELECT id, name FROM customers UNION ALL SELECT id, name FROM products",
    "SELECT country AS k FROM customers UNION SELECT status FROM orders",
    "SELECT customer_id AS id FROM orders UNION SELECT id FROM customers",
    "SELECT tier AS v FROM customers UNION ALL SELECT price FROM products UNION ALL SELECT discount FROM orders",
    "SELECT id, tier AS v FROM customers WHERE tier > 1 UNION ALL SELECT id, NULL FROM orders WHERE status = 'new'",
    "SELECT k, COUNT(*) AS n {INTO} FROM (SELECT country AS k FROM customers UNION ALL SELECT status FROM orders) s GROUP BY k",
    "WITH paid AS (SELECT id, customer_id FROM orders WHERE status = 'paid') SELECT customer_id AS c {INTO} FROM paid UNION SELECT id FROM customers WHERE tier = 0",
    "SELECT country AS k, COUNT(*) AS n FROM customers GROUP BY country UNION ALL SELECT category, COUNT(*) FROM products GROUP BY category",
    "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id UNION ALL SELECT l.order_id, p.name FROM order_lines l JOIN products p ON p.id = l.product_id",
    "SELECT name AS n FROM customers UNION SELECT name FROM products UNION ALL SELECT status FROM orders",
    "SELECT id AS v FROM customers UNION ALL (SELECT id FROM products UNION SELECT customer_id FROM orders)",
    "SELECT DISTINCT v {INTO} FROM (SELECT tier AS v FROM customers UNION ALL SELECT qty FROM order_lines) s WHERE v IS NOT NULL",
];

/// Two joined tables: aliases and tables, the ON equality, and what the generated statements
/// select, filter, group by, sum and test on each side.
struct Pair {
    from: (&'static str, &'static str),
    on: &'static str,
    select: &'static str,
    filter: &'static str,
    group: &'static str,
    sum: &'static str,
    right_column: &'static str,
    left_condition: &'static str,
    right_condition: &'static str,
}

const PAIRS: [Pair; 5] = [
    Pair {
        from: ("orders o", "customers c"),
        on: "o.customer_id = c.id",
        select: "o.id AS oid, c.id AS cid, c.country",
        filter: "o.status <> 'cancelled'",
        group: "c.country",
        sum: "o.discount",
        right_column: "c.id",
        left_condition: "o.discount > 0.1",
        right_condition: "c.tier >= 2",
    },
    Pair {
        from: ("order_lines l", "orders o"),
        on: "l.order_id = o.id",
        select: "l.order_id, l.line, o.id AS oid, o.status",
        filter: "l.qty > 0",
        group: "o.status",
        sum: "l.qty",
        right_column: "o.id",
        left_condition: "l.qty BETWEEN 1 AND 5",
        right_condition: "o.status IN ('paid', 'shipped')",
    },
    Pair {
        from: ("order_lines l", "products p"),
        on: "l.product_id = p.id",
        select: "l.order_id, l.line, p.id AS pid, p.price",
        filter: "p.price > 5 OR l.qty > 3",
        group: "p.category",
        sum: "l.qty * p.price",
        right_column: "p.id",
        left_condition: "l.qty <> 2",
        right_condition: "p.category <> 'dairy'",
    },
    Pair {
        from: ("customers a", "customers b"),
        on: "a.country = b.country AND a.tier = b.tier",
        select: "a.id AS aid, b.id AS bid",
        filter: "a.id <= b.id",
        group: "a.country",
        sum: "b.tier",
        right_column: "b.id",
        left_condition: "a.signup < '2023-07-01'",
        right_condition: "b.name IS NOT NULL",
    },
    Pair {
        from: ("products p", "products q"),
        on: "p.category = q.category",
        select: "p.id AS pid, q.id AS qid, q.price",
        filter: "p.price < q.price",
        group: "p.category",
        sum: "q.price",
        right_column: "q.id",
        left_condition: "p.price > 10",
        right_condition: "q.name LIKE '%e%'",
    },
];

const KINDS: [&str; 4] = ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"];

/// A matrix over every join kind: for each pair of tables, projections (plain and filtered),
/// counts and sums per group, and ON conditions on either side; then the three-table chain
/// order lines → orders → customers with every combination of two join kinds.
fn matrix() -> Vec<String> {
    let mut queries = Vec::new();
    for p in &PAIRS {
        for kind in KINDS {
            let (left, right) = p.from;
            let from = format!("{left} {kind} {right} ON {}", p.on);
            let (select, filter, group) = (p.select, p.filter, p.group);
            queries.push(format!("SELECT {select} FROM {from}"));
            queries.push(format!("SELECT {select} FROM {from} WHERE {filter}"));
            queries.push(format!(
                "SELECT {group} AS k, COUNT(*) AS n, COUNT({}) AS m FROM {from} GROUP BY {group}",
                p.right_column
            ));
            queries.push(format!(
                "SELECT {group} AS k, SUM({}) AS s FROM {from} GROUP BY {group}",
                p.sum
            ));
            queries.push(format!(
                "SELECT {select} FROM {from} AND {}",
                p.left_condition
            ));
            queries.push(format!(
                "SELECT {select} FROM {from} AND {}",
                p.right_condition
            ));
        }
    }
    for first in KINDS {
        for second in KINDS {
            let from = format!(
                "order_lines l {first} orders o ON l.order_id = o.id {second} customers c ON o.customer_id = c.id"
            );
            queries.push(format!(
                "SELECT l.line, o.id AS oid, c.id AS cid FROM {from}"
            ));
            queries.push(format!(
                "SELECT c.country AS k, COUNT(*) AS n, COUNT(l.line) AS lines, SUM(l.qty) AS q FROM {from} GROUP BY c.country"
            ));
        }
    }
    queries
}

#[test]
fn joins_equal_postgres_under_changes_to_every_table() -> anyhow::Result<()> {
    let seed = corpus::seed(20261126);
    let matrix = matrix();
    let bodies: Vec<&str> = PROJECTIONS
        .iter()
        .chain(AGGREGATIONS)
        .chain(UNIONS)
        .copied()
        .chain(matrix.iter().map(String::as_str))
        .collect();
    let queries = corpus::queries(&bodies);
    let mut shop = Shop::new(seed);
    let setup = format!("{SHOP_SCHEMA} {}", shop.initial(40));
    let corpus = Corpus {
        app: "join_corpus",
        tables: &SHOP_TABLES,
        setup: &setup,
        queries: &queries,
        seed,
    };
    corpus::run(&corpus, 4, 40, &mut || shop.transaction())
}
