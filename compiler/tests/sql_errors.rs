//! SQL binding: every user-facing error of the SQL compiler as the user sees it rendered
//! (message, `dozer-config.yaml:LINE:COL` inside the `sql` block, the underlined token and the
//! help), plus the endpoint checks that need the SQL's tables.
//!
//! Positive binding rules (types, names, coercions) are in `sql_binding.rs`.

mod common;

use common::{compile, yaml};
use dozerc::diagnostics::render;

/// Compiles, expecting an error: the rendering contains `message`, `[dozer-config.yaml:AT]`
/// and every help fragment (after `help:`), and the underlined YAML text is `token` (or starts
/// with it when it ends in `..`: sqlparser's spans of calls stop before the closing paren).
fn fails(
    sql: &str,
    endpoints: &str,
    message: &str,
    at: &str,
    token: &str,
    helps: &[&str],
) -> String {
    let err = match compile(sql, endpoints) {
        Ok(_) => panic!("expected an error containing {message:?} for:\n{sql}"),
        Err(e) => e,
    };
    let rendered = render(&err);
    // Long lines wrap at 100 columns: compare without line breaks.
    let flat = rendered
        .split('\n')
        .map(|l| l.trim_start_matches([' ', '│']).trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains(message),
        "missing message {message:?} in:\n{rendered}"
    );
    let location = format!("[dozer-config.yaml:{at}]");
    assert!(
        flat.contains(&location),
        "missing {location} in:\n{rendered}"
    );
    let help_at = flat.find("help: ").unwrap_or(flat.len());
    for h in helps {
        assert!(
            flat[help_at..].contains(h),
            "missing help {h:?} in:\n{rendered}"
        );
    }
    let text = yaml(sql, endpoints);
    let span = err.span().expect("the error points into the config");
    let underlined = &text[span.start..span.end()];
    let matches = match token.strip_suffix("..") {
        Some(prefix) => underlined.starts_with(prefix),
        None => underlined == token,
    };
    assert!(
        matches,
        "underlined {underlined:?}, expected {token:?}, in:\n{rendered}"
    );
    rendered
}

/// One test per error: SQL (and endpoints) => message, `LINE:COL` in dozer-config.yaml, the
/// underlined text (`prefix..` for a prefix), and fragments of the help.
macro_rules! sql_errors {
    ($($(#[$attr:meta])* $name:ident: $sql:expr, $endpoints:expr
        => $message:expr, $at:expr, $token:expr, [$($help:expr),* $(,)?];)*) => {
        $($(#[$attr])* #[test]
        fn $name() {
            fails($sql, $endpoints, $message, $at, $token, &[$($help),*]);
        })*
    };
}

sql_errors! {
    syntax_error_points_at_the_unexpected_token:
        "SELECT Country INTO t FROM sales WHERE;", ""
        => "SQL syntax error: Expected: an expression, found: ;", "25:41", ";",
        ["dozerc reads statements of the form `SELECT ... INTO <table> FROM <table>"];
    syntax_error_misspelled_keyword:
        "SELECT Country INTO t FORM sales;", ""
        => "SQL syntax error: Expected: end of statement, found: FORM", "25:25", "FORM",
        ["[WHERE ...] [GROUP BY ...] [HAVING ...];"];
    syntax_error_on_a_later_line_of_the_statement:
        "SELECT Country\nINTO t\nFROM sales\nWHERE Quantity >;", ""
        => "SQL syntax error: Expected: an expression, found: ;", "28:19", ";",
        ["dozerc reads statements"];
    statement_without_into:
        "SELECT Country FROM sales;", ""
        => "this SELECT has no INTO", "25:3", "SELECT Country FROM sales",
        ["add `INTO <table>` after the SELECT list"];
    unknown_table_suggests_the_closest:
        "SELECT Country INTO t FROM sale;", ""
        => "unknown table `sale`", "25:30", "sale", ["did you mean `sales`? Known tables: sales"];
    unknown_table_without_a_close_name_lists_tables:
        "SELECT Country INTO t FROM orders;", ""
        => "unknown table `orders`", "25:30", "orders",
        ["known tables: sales (a statement may only read sources and tables defined above it)"];
    table_defined_later_is_unknown:
        "SELECT Country INTO t FROM u;\nSELECT Country INTO u FROM sales;", ""
        => "unknown table `u`", "25:30", "u", ["may only read sources and tables defined above it"];
    quoted_table_name_is_exact:
        "SELECT COUNT(*) AS n INTO t FROM \"Sales\";", ""
        => "unknown table `Sales`", "25:36", "\"Sales\"", ["did you mean `sales`?"];
    unknown_column_suggests_the_closest:
        "SELECT Contry INTO t FROM sales;", ""
        => "unknown column `Contry` in `sales`", "25:10", "Contry",
        ["did you mean `Country`? The columns are: InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice, CustomerID, Country"];
    quoted_column_name_is_exact:
        "SELECT \"country\" INTO t FROM sales;", ""
        => "unknown column `country` in `sales`", "25:10", "\"country\"", ["did you mean `Country`?"];
    unknown_table_qualifier:
        "SELECT x.Country INTO t FROM sales;", ""
        => "unknown table `x`", "25:10", "x", ["this statement reads `sales`"];
    column_neither_grouped_nor_aggregated:
        "SELECT Country, Quantity INTO t FROM sales GROUP BY Country;", ""
        => "column `Quantity` must appear in GROUP BY or be used in an aggregate function", "25:19",
        "Quantity", ["add `Quantity` to GROUP BY, or aggregate it, e.g. MAX(Quantity)"];
    ungrouped_column_in_having:
        "SELECT Country INTO t FROM sales GROUP BY Country HAVING Quantity > 1;", ""
        => "column `Quantity` must appear in GROUP BY", "25:60", "Quantity", ["MAX(Quantity)"];
    arithmetic_on_a_string_column:
        "SELECT Country * 2 AS x INTO t FROM sales;", ""
        => "cannot apply `*` to String and Int", "25:10", "Country * 2",
        ["arithmetic needs numbers (Int, UInt, Decimal, Float); CAST the operands"];
    arithmetic_with_a_string_literal:
        "SELECT Quantity + 'abc' AS x INTO t FROM sales;", ""
        => "cannot apply `+` to Int and String", "25:10", "Quantity + 'abc'", ["arithmetic needs numbers"];
    comparison_with_an_unparsable_literal:
        "SELECT InvoiceNo INTO t FROM sales WHERE InvoiceDate > 'yesterday';", ""
        => "cannot apply `>` to Timestamp and String", "25:44", "InvoiceDate > 'yesterday'",
        ["compare values of the same kind"];
    concat_needs_strings:
        "SELECT Country || 1 AS b INTO t FROM sales;", ""
        => "cannot apply `||` to String and Int", "25:10", "Country || 1", ["|| joins String values"];
    where_that_is_not_boolean:
        "SELECT Country INTO t FROM sales WHERE Quantity;", ""
        => "WHERE needs a Boolean condition, found a", "25:42", "Quantity",
        ["compare it, e.g. `Quantity > 0`"];
    having_that_is_not_boolean:
        "SELECT Country, SUM(Quantity) AS q INTO t FROM sales GROUP BY Country HAVING SUM(Quantity);", ""
        => "HAVING needs a Boolean condition", "25:80", "SUM(Quantity..", [];
    aggregate_in_where:
        "SELECT Country INTO t FROM sales WHERE SUM(Quantity) > 0;", ""
        => "aggregate functions are not allowed in WHERE", "25:42", "SUM(Quantity..",
        ["filter groups with HAVING instead"];
    aggregate_in_group_by:
        "SELECT COUNT(*) AS n INTO t FROM sales GROUP BY SUM(Quantity);", ""
        => "aggregate functions are not allowed in GROUP BY", "25:51", "SUM(Quantity..", ["HAVING"];
    order_by_points_to_the_api:
        "SELECT Country INTO t FROM sales ORDER BY Country;", ""
        => "ORDER BY is not supported in a pipeline", "25:45", "Country",
        ["results are served unordered; sort in the API with `$order_by`"];
    limit_points_to_the_api:
        "SELECT Country INTO t FROM sales LIMIT 10;", ""
        => "LIMIT/OFFSET is not supported in a pipeline", "25:42", "10",
        ["page through results in the API with `$limit` and `$skip`"];
    several_from_tables:
        "SELECT Country INTO t FROM sales, sales;", ""
        => "a statement's FROM names one table or one chain of JOINs", "25:37", "sales",
        ["join the tables with `JOIN ... ON a.x = b.x`"];
    join_column_in_both_tables_is_ambiguous:
        "SELECT Country INTO t FROM sales a JOIN sales b ON a.CustomerID = b.CustomerID;", ""
        => "column `Country` is ambiguous", "25:10", "Country",
        ["it is a column of `sales` (as `a`) and of `sales` (as `b`): qualify it, e.g. `a.Country`"];
    join_of_a_table_with_itself_needs_aliases:
        "SELECT Country INTO t FROM sales JOIN sales ON Quantity = Quantity;", ""
        => "`sales` appears twice in FROM", "25:41", "sales",
        ["give each an alias"];
    join_qualifier_must_name_a_table_of_from:
        "SELECT c.Country INTO t FROM sales a JOIN sales b ON a.CustomerID = b.CustomerID;", ""
        => "unknown table `c`", "25:10", "c",
        ["this statement reads `sales` (as `a`), `sales` (as `b`)"];
    join_needs_an_equality:
        "SELECT a.Country INTO t FROM sales a JOIN sales b ON a.Quantity < b.Quantity;", ""
        => "a join needs an equality between its two sides", "25:56", "a.Quantity..",
        ["match rows with `=`"];
    outer_join_on_compares_sides_only_with_equalities:
        "SELECT a.Country INTO t FROM sales a LEFT JOIN sales b ON a.CustomerID = b.CustomerID AND a.Quantity < b.Quantity;", ""
        => "an outer join's ON may only compare the two sides with `=`", "25:93", "a.Quantity..",
        ["keep `a.Quantity < b.Quantity` out of ON", "use an INNER JOIN"];
    cross_join_is_refused:
        "SELECT a.Country INTO t FROM sales a CROSS JOIN sales b;", ""
        => "CROSS JOIN is not supported in a pipeline", "25:51", "sales b",
        ["join on an equality"];
    join_using_is_refused:
        "SELECT a.Country INTO t FROM sales a JOIN sales b USING (CustomerID);", ""
        => "JOIN ... USING is not supported", "25:45", "sales b..",
        ["write the equalities with ON"];
    join_without_on_is_refused:
        "SELECT a.Country INTO t FROM sales a JOIN sales b;", ""
        => "this JOIN has no ON condition", "25:45", "sales b",
        ["add the equalities that match rows"];
    join_of_a_window_is_refused:
        "SELECT a.Country INTO t FROM sales a JOIN TUMBLE(sales, InvoiceDate, '1 DAY') b ON a.CustomerID = b.CustomerID;", ""
        => "a joined table must be a table, a WITH query or a subquery", "25:45", "TUMBLE..",
        ["apply them in a WITH query and join its result"];
    join_key_of_different_kinds_is_a_type_error:
        "SELECT a.Country INTO t FROM sales a JOIN sales b ON a.Country = b.Quantity;", ""
        => "cannot apply `=` to String and Int", "25:56", "a.Country..", [];
    union_branches_select_the_same_number_of_columns:
        "SELECT Country INTO t FROM sales UNION ALL SELECT Country, Quantity FROM sales;", ""
        => "UNION branches select different numbers of columns: 1 in the first, 2 in branch 2", "25:3", "SELECT..",
        ["select the same columns in each branch"];
    union_branches_agree_on_types:
        "SELECT Country INTO t FROM sales UNION SELECT Quantity FROM sales;", ""
        => "UNION column `Country` is a String in the first branch and an Int in branch 2", "25:3", "SELECT..",
        ["CAST one of them"];
    except_is_refused:
        "SELECT Country INTO t FROM sales EXCEPT SELECT Country FROM sales;", ""
        => "EXCEPT is not supported in a pipeline", "25:3", "SELECT..",
        ["LEFT JOIN them and filter on `IS [NOT] NULL`"];
    into_belongs_to_the_first_union_branch:
        "SELECT Country INTO t FROM sales UNION ALL SELECT Country INTO u FROM sales;", ""
        => "a query inside a statement has no INTO", "25:66", "u",
        ["only the outer SELECT names the statement's result"];
    unknown_table_function:
        "SELECT COUNT(*) AS n INTO t FROM SLIDE(sales, InvoiceDate, '1 DAY');", ""
        => "table function `SLIDE` is not supported", "25:36", "SLIDE",
        ["the table functions are TUMBLE(table, time, 'size'), HOP(table, time, 'hop', 'size') and TTL("];
    ttl_column_must_exist:
        "SELECT COUNT(*) AS n INTO t FROM TTL(sales, SoldAt, '1 DAY');", ""
        => "`sales` has no column `SoldAt`", "25:47", "SoldAt", ["its columns are: InvoiceNo"];
    ttl_column_is_a_column_of_the_source_not_of_the_window:
        "SELECT COUNT(*) AS n INTO t FROM TTL(TUMBLE(sales, InvoiceDate, '1 DAY'), window_start, '1 DAY');", ""
        => "`sales` has no column `window_start`", "25:77", "window_start",
        ["the time of TTL is a column of `sales` itself"];
    ttl_column_must_be_a_timestamp:
        "SELECT COUNT(*) AS n INTO t FROM TTL(sales, Quantity, '1 DAY');", ""
        => "the time column of TTL must be a Timestamp; `Quantity` is", "25:47", "Quantity",
        ["declare it as Timestamp in the source's schema"];
    ttl_duration_is_checked:
        "SELECT COUNT(*) AS n INTO t FROM TTL(sales, InvoiceDate, '2 WEEKS');", ""
        => "`2 WEEKS` is not a duration", "25:60", "'2 WEEKS'", ["'1 DAY', '6 HOURS'"];
    ttl_argument_count:
        "SELECT COUNT(*) AS n INTO t FROM TTL(sales, '1 DAY');", ""
        => "TTL takes 3 arguments, found 2", "25:36", "TTL..",
        ["write TTL(table, time_column, 'duration')"];
    ttl_over_a_subquery_shape:
        "SELECT COUNT(*) AS n INTO t FROM TTL(LOWER(sales), InvoiceDate, '1 DAY');", ""
        => "expected a table, or a TUMBLE(...) or HOP(...) window over one", "25:40", "LOWER(sales..",
        ["TTL(TUMBLE(...), time_column, 'duration')"];
    ttl_reads_a_source:
        "SELECT Country, COUNT(*) AS n INTO c FROM sales GROUP BY Country; SELECT COUNT(*) AS m INTO t FROM TTL(c, n, '1 DAY');", ""
        => "TTL reads a source, and `c` is the result of a statement", "25:106", "c",
        ["apply the TTL in the statement that reads the source"];
    window_inside_ttl_is_checked:
        "SELECT COUNT(*) AS n INTO t FROM TTL(HOP(sales, InvoiceDate, '7 HOURS', '1 DAY'), InvoiceDate, '1 DAY');", ""
        => "the hop of a HOP window must divide its size", "25:64", "'7 HOURS'", [];
    window_duration_is_checked:
        "SELECT COUNT(*) AS n INTO t FROM TUMBLE(sales, InvoiceDate, '1 FORTNIGHT');", ""
        => "`1 FORTNIGHT` is not a duration", "25:63", "'1 FORTNIGHT'",
        ["write a quoted positive whole number and a unit: '1 DAY', '6 HOURS'"];
    window_time_column_must_be_a_timestamp:
        "SELECT COUNT(*) AS n INTO t FROM TUMBLE(sales, Quantity, '1 DAY');", ""
        => "the time column of a window must be a Timestamp; `Quantity` is", "25:50", "Quantity",
        ["declare it as Timestamp in the source's schema"];
    window_time_column_must_exist:
        "SELECT COUNT(*) AS n INTO t FROM TUMBLE(sales, SoldAt, '1 DAY');", ""
        => "`sales` has no column `SoldAt`", "25:50", "SoldAt", ["its columns are: InvoiceNo"];
    window_table_must_exist:
        "SELECT COUNT(*) AS n INTO t FROM TUMBLE(sale, InvoiceDate, '1 DAY');", ""
        => "unknown table `sale`", "25:43", "sale", ["did you mean `sales`?"];
    hop_must_divide_the_size:
        "SELECT COUNT(*) AS n INTO t FROM HOP(sales, InvoiceDate, '7 HOURS', '1 DAY');", ""
        => "the hop of a HOP window must divide its size", "25:60", "'7 HOURS'",
        ["every row then lands in exactly size / hop windows"];
    window_argument_count:
        "SELECT COUNT(*) AS n INTO t FROM HOP(sales, InvoiceDate, '1 DAY');", ""
        => "HOP takes 4 arguments, found 3", "25:36", "HOP..",
        ["write HOP(table, time_column, 'hop', 'size')"];
    hop_without_aggregation:
        "SELECT Country INTO t FROM HOP(sales, InvoiceDate, '1 HOUR', '1 DAY') w;", ""
        => "a HOP window without aggregation is not supported", "25:3", "SELECT Country..",
        ["aggregate over the window", "or select over TUMBLE(...) for one window per row"];
    subquery_in_from_needs_no_into:
        "SELECT Country INTO t FROM (SELECT Country INTO u FROM sales) s;", ""
        => "a query inside a statement has no INTO", "25:51", "u", ["only the outer SELECT names"];
    recursive_with:
        "WITH RECURSIVE x AS (SELECT Country FROM sales) SELECT Country INTO t FROM x;", ""
        => "WITH RECURSIVE is not supported in a pipeline", "25:3", "WITH..",
        ["write the steps as statements"];
    with_column_list:
        "WITH x (c) AS (SELECT Country FROM sales) SELECT c INTO t FROM x;", ""
        => "column names after a WITH name are not supported", "25:8", "x (c..",
        ["name the columns with AS inside the query"];
    subquery_alias_column_list:
        "SELECT a INTO t FROM (SELECT Country AS a FROM sales) AS s(b);", ""
        => "column names after a subquery's alias are not supported", "25:60", "s(b..",
        ["name the columns with AS inside the subquery"];
    unused_with_query:
        "WITH x AS (SELECT Country FROM sales), y AS (SELECT Quantity FROM sales) SELECT Country INTO t FROM x;", ""
        => "WITH query `y` is not used", "25:3", "WITH..", ["remove it"];
    hidden_tables_are_private:
        "WITH x AS (SELECT Country FROM sales) SELECT Country INTO t FROM x; SELECT Country INTO u FROM t__x;", ""
        => "unknown table `t__x`", "25:98", "t__x", [];
    cast_with_a_length:
        "SELECT CAST(Country AS VARCHAR(2)) AS c INTO t FROM sales;", ""
        => "casting to VARCHAR(2) is not supported", "25:15", "Country", ["without a length or precision"];
    cast_to_real:
        "SELECT CAST(Quantity AS REAL) AS c INTO t FROM sales;", ""
        => "casting to REAL is not supported", "25:15", "Quantity", ["DOUBLE PRECISION"];
    substring_with_a_pattern:
        "SELECT SUBSTRING(Country FROM 'U.') AS s INTO t FROM sales;", ""
        => "SUBSTRING with a pattern is not supported", "25:33", "'U.'", ["give the start as a number"];
    json_access_on_text:
        "SELECT Country ->> 'a' AS j INTO t FROM sales;", ""
        => "`->>` reads a Json value, not a String", "25:10", "Country ->> 'a'", ["declare the column as Json"];
    hidden_name_taken:
        "SELECT Country INTO t__x FROM sales; WITH x AS (SELECT Country FROM sales) SELECT Country INTO t FROM x;", ""
        => "this query would be stored as `t__x`, which is already a table", "25:51", "SELECT Country FROM sales..",
        ["rename the WITH query"];
    values_is_refused:
        "VALUES (1, 2);", ""
        => "this query form (VALUES, ...) is not supported in a pipeline", "25:10", "(1..",
        ["write `SELECT ... INTO <table> FROM <table>"];
    select_distinct_on:
        "SELECT DISTINCT ON (Country) Country, Quantity INTO t FROM sales;", ""
        => "SELECT DISTINCT ON is not supported in a pipeline", "25:3", "SELECT DISTINCT..",
        ["use GROUP BY with MIN/MAX of the other columns"];
    select_distinct_star:
        "SELECT DISTINCT * INTO t FROM sales;", ""
        => "SELECT DISTINCT * is not supported", "25:19", "*", ["list the columns"];
    duplicate_output_column:
        "SELECT Country, country INTO t FROM sales;", ""
        => "column `Country` appears twice in the result", "25:19", "country",
        ["give one of them another name with AS"];
    duplicate_default_function_names:
        "SELECT Country, SUM(Quantity), SUM(UnitPrice) INTO t FROM sales GROUP BY Country;", ""
        => "column `sum` appears twice in the result", "25:34", "SUM(UnitPrice..", ["AS"];
    duplicate_into_table:
        "SELECT Country INTO t FROM sales;\nSELECT Country INTO T FROM sales;", ""
        => "table `T` is already defined", "26:23", "T", ["give each statement's result its own name"];
    into_a_source_name:
        "SELECT Country INTO sales FROM sales;", ""
        => "table `sales` is already defined", "25:23", "sales", ["its own name"];
    expression_without_alias:
        "SELECT Quantity * 2 INTO t FROM sales;", ""
        => "this result column needs a name", "25:10", "Quantity * 2",
        ["add an alias: `Quantity * 2 AS some_name`"];
    group_by_column_not_selected:
        "SELECT SUM(Quantity) AS q INTO t FROM sales GROUP BY Country;", ""
        => "GROUP BY `Country` is not in the SELECT list", "25:56", "Country",
        ["add `Country` to the SELECT list: dozerc serves it as part of the result's primary key"];
    sum_over_a_string:
        "SELECT Country, SUM(Country) AS s INTO t FROM sales GROUP BY Country;", ""
        => "SUM cannot take a String argument", "25:19", "SUM(Country..",
        ["SUM and AVG need a number (Int, UInt, Decimal, Float)"];
    window_function:
        "SELECT Country, SUM(Quantity) OVER () AS s INTO t FROM sales GROUP BY Country;", ""
        => "SUM with OVER, FILTER or WITHIN GROUP is not supported", "25:19", "SUM(..",
        ["window functions are not supported in pipelines"];
    count_distinct_star:
        "SELECT Country, COUNT(DISTINCT *) AS s INTO t FROM sales GROUP BY Country;", ""
        => "COUNT takes exactly one argument", "25:19", "COUNT", [];
    max_value_takes_two_arguments:
        "SELECT Country, MAX_VALUE(Quantity) AS m INTO t FROM sales GROUP BY Country;", ""
        => "MAX_VALUE takes two arguments", "25:19", "MAX_VALUE..",
        ["MAX_VALUE(x, y) returns y of the row with the greatest x"];
    aggregate_with_order_by:
        "SELECT Country, SUM(Quantity ORDER BY Quantity) AS s INTO t FROM sales GROUP BY Country;", ""
        => "SUM(... ORDER BY/LIMIT) is not supported", "25:19", "SUM(..",
        ["does not depend on the order of its rows"];
    unknown_function:
        "SELECT SOUNDEX(Country) AS u INTO t FROM sales;", ""
        => "unknown or unsupported function `SOUNDEX`", "25:10", "SOUNDEX(..",
        ["supported functions: COALESCE, NULLIF, LENGTH"];
    clock_functions_are_refused:
        "SELECT Country INTO t FROM sales WHERE InvoiceDate > NOW();", ""
        => "`NOW` depends on when the pipeline runs", "25:56", "NOW",
        ["use a time column of the source (see TTL for expiring old rows)"];
    window_function_over:
        "SELECT Country, ROW_NUMBER() OVER (PARTITION BY Country) AS n INTO t FROM sales;", ""
        => "window function `ROW_NUMBER` (OVER) is not supported", "25:19", "ROW_NUMBER..",
        ["aggregate with GROUP BY, or over TUMBLE/HOP windows"];
    subquery_in_where:
        "SELECT Country INTO t FROM sales WHERE Quantity > (SELECT 1);", ""
        => "subqueries are not supported yet", "25:54", "SELECT 1",
        ["write the inner query as its own `SELECT ... INTO` statement"];
    interval_alone:
        "SELECT INTERVAL '1 day' AS i INTO t FROM sales;", ""
        => "an INTERVAL can only be added to or subtracted from a Timestamp or a Date", "25:19", "'1 day'", [];
    bad_interval:
        "SELECT InvoiceDate + INTERVAL '1 fortnight' AS i INTO t FROM sales;", ""
        => "is not an interval dozerc can read", "25:33", "'1 fortnight'", ["INTERVAL '1 day'"];
    function_arity:
        "SELECT REPLACE(Country, 'a') AS r INTO t FROM sales;", ""
        => "REPLACE takes 3 arguments, found 2", "25:10", "REPLACE(..", [];
    function_argument_type:
        "SELECT UPPER(Quantity) AS u INTO t FROM sales;", ""
        => "the argument must be a String, not an Int", "25:16", "Quantity", [];
    round_places_of_a_float:
        "SELECT ROUND(CAST(Quantity AS FLOAT), 2) AS r INTO t FROM sales;", ""
        => "ROUND(x, places) needs a Decimal; this is a Float", "25:21", "Quantity",
        ["CAST it to NUMERIC first"];
    case_branches_of_different_types:
        "SELECT CASE WHEN Quantity > 0 THEN Country ELSE Quantity END AS c INTO t FROM sales;", ""
        => "CASE mixes a String and an Int", "25:10", "CASE..", ["CAST the values to one type"];
    like_escape_of_two_characters:
        "SELECT Country INTO t FROM sales WHERE Country LIKE 'a%' ESCAPE '!!';", ""
        => "ESCAPE takes one character", "25:67", "'!!'", [];
    extract_of_an_unknown_field:
        "SELECT EXTRACT(FORTNIGHT FROM InvoiceDate) AS f INTO t FROM sales;", ""
        => "EXTRACT of `FORTNIGHT` is not supported", "25:33", "InvoiceDate", ["fields: YEAR, QUARTER"];
    unsupported_expression:
        "SELECT Country INTO t FROM sales WHERE Country SIMILAR TO 'U%';", ""
        => "unsupported expression `Country SIMILAR TO 'U%'`", "25:42", "Country SIMILAR..",
        ["use columns, literals, arithmetic (+ - * / %), comparisons"];
    cast_that_cannot_convert:
        "SELECT CAST(InvoiceDate AS INT) AS c INTO t FROM sales;", ""
        => "cannot cast a Timestamp to Int", "25:15", "InvoiceDate",
        ["casts go between numbers, to and from text"];
    cast_to_an_unsupported_type:
        "SELECT CAST(Quantity AS INTERVAL) AS d INTO t FROM sales;", ""
        => "casting to INTERVAL is not supported", "25:15", "Quantity", ["TEXT/VARCHAR, BOOLEAN, DATE and TIMESTAMP"];
    bare_null_has_no_type:
        "SELECT NULL AS x INTO t FROM sales;", ""
        => "a bare NULL has no type", "25:10", "NULL", ["CAST it, e.g. CAST(NULL AS NUMERIC)"];
    not_on_a_string:
        "SELECT NOT Country AS b INTO t FROM sales;", ""
        => "expected a Boolean expression", "25:14", "Country", [];
    statement_that_is_not_a_select:
        "INSERT INTO t VALUES (1);", ""
        => "this kind of statement is not supported in a pipeline", "25:3", "INSERT INTO t..",
        ["only SELECT statements define pipeline tables; write `SELECT ... INTO <table>"];
    endpoint_with_unknown_table_suggests_the_closest:
        "SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: tt\n"
        => "endpoint `e` serves unknown table `tt`", "29:17", "tt", ["did you mean `t`? Tables: t, sales"];
    endpoint_with_unknown_table_lists_tables:
        "SELECT Country INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: orders_by_day\n"
        => "endpoint `e` serves unknown table `orders_by_day`", "29:17", "orders_by_day",
        ["tables are created by `SELECT ... INTO <table>` in `sql`; known: t, sales"];
    endpoint_primary_key_disagrees_with_group_by:
        "SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      primary_key:\n        - n\n"
        => "endpoint `e` declares primary key [n], but `t` is keyed by [Country]", "31:7", "primary_key",
        ["the primary key of a result is its GROUP BY columns", "fix `index.primary_key` or remove it"];
    endpoint_primary_key_on_a_projection_of_a_source:
        "SELECT Country INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      primary_key:\n        - Country\n"
        => "but `t` is keyed by the source row id (file and row number)", "31:7", "primary_key",
        ["or the source key for projections"];
    index_skip_default_names_an_unknown_column:
        "SELECT Country, Quantity INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n        skip_default: [Countr]\n"
        => "endpoint `e` indexes unknown column `Countr` of `t`", "32:24", "Countr",
        ["did you mean `Country`? Columns of `t`: Country, Quantity"];
    index_created_over_an_unknown_column:
        "SELECT Country, Quantity INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n        create:\n          - index: !SortedInverted\n              fields: [Country, Price]\n"
        => "endpoint `e` indexes unknown column `Price` of `t`", "34:33", "Price",
        ["columns of `t`: Country, Quantity"];
    index_declared_twice:
        "SELECT Country, Quantity INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n        create:\n          - index: !SortedInverted\n              fields: [Country, Quantity]\n          - index: !SortedInverted\n              fields: [country, quantity]\n"
        => "endpoint `e` declares the index [Country, Quantity] twice", "35:13", "index",
        ["the same index is already declared at create[0] on line 33; remove one"];
    index_with_a_repeated_column:
        "SELECT Country, Quantity INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n        create:\n          - index: !SortedInverted\n              fields: [Country, Country]\n"
        => "endpoint `e`: column `Country` appears twice in one index", "34:33", "Country",
        ["list each column once"];
    index_without_fields:
        "SELECT Country, Quantity INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n        create:\n          - index: !SortedInverted\n              fields: []\n"
        => "endpoint `e`: an index needs at least one field", "34:15", "fields",
        ["list the columns to index in order"];
    full_text_index_is_refused:
        "SELECT Country, Quantity INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n        create:\n          - index: !FullText\n              field: Country\n"
        => "endpoint `e`: full-text indexes are not supported yet (on `Country`)", "33:13", "index",
        ["`!SortedInverted { fields: [Country] }` serves equality and range filters and sorting"];
}

/// Compiles the test config with a Json column `Doc` added to `sales` (one line more: the
/// SQL starts on line 26).
fn compile_with_json(
    sql: &str,
    endpoints: &str,
) -> Result<dozerc::Compiled, dozerc::diagnostics::CompileError> {
    let text = common::yaml(sql, endpoints).replace(
        "              Country: String\n",
        "              Country: String\n              Doc: Json\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data/sales")).expect("sales folder");
    let file = dozerc::diagnostics::SourceFile::new(
        dir.path().join("dozer-config.yaml"),
        "dozer-config.yaml",
        text,
    );
    let cfg = dozerc::config::parse(file, dir.path().to_path_buf())
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    dozerc::compile_loaded(cfg)
}

/// Defaults: one index per indexable column, minus `skip_default`, plus `create`.
#[test]
fn secondary_indexes_default_to_every_indexable_column() {
    let sql = "SELECT Country, Quantity, Doc, InvoiceDate INTO t FROM sales;";
    let indexes = |endpoints: &str| {
        let compiled =
            compile_with_json(sql, endpoints).unwrap_or_else(|e| panic!("{}", render(&e)));
        compiled.pipeline.endpoints[0].indexes.clone()
    };
    let plain = "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n";
    assert_eq!(
        indexes(plain),
        [vec![0], vec![1], vec![3]],
        "Json gets none"
    );
    let configured = format!(
        "{plain}    index:\n      secondary:\n        skip_default: [quantity]\n        create:\n          - index: !SortedInverted\n              fields: [Country, InvoiceDate]\n          - index: !SortedInverted\n              fields: [Country]\n"
    );
    assert_eq!(indexes(&configured), [vec![0], vec![3], vec![0, 3]]);
}

#[test]
fn an_index_over_a_json_column_is_refused() {
    let endpoints = "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      secondary:\n        create:\n          - index: !SortedInverted\n              fields: [Country, doc]\n";
    let Err(err) = compile_with_json("SELECT Country, Doc INTO t FROM sales;", endpoints) else {
        panic!("a Json index compiled");
    };
    let rendered = render(&err);
    for wanted in [
        "endpoint `e` indexes column `Doc`, whose type Json has no order",
        "[dozer-config.yaml:35:33]",
        "Json columns cannot be indexed or sorted; remove `doc` from this index",
    ] {
        assert!(
            rendered.contains(wanted),
            "missing {wanted:?} in:\n{rendered}"
        );
    }
}

/// A global aggregate has one row and no key columns; "source row id" would be wrong.
#[test]
fn endpoint_primary_key_on_a_global_aggregate() {
    let out = fails(
        "SELECT COUNT(*) AS n INTO t FROM sales;",
        "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      primary_key:\n        - n\n",
        "endpoint `e` declares primary key [n], but `t` is keyed by nothing: it has exactly one row",
        "31:7",
        "primary_key",
        &["fix `index.primary_key` or remove it"],
    );
    assert!(!out.contains("source row id"), "{out}");
}

#[test]
fn errors_in_a_later_statement_point_at_that_statement() {
    let sql = "SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country;\n\nSELECT Country, m INTO u FROM t;";
    // SQL line 3 is YAML line 27; `m` is SQL column 17.
    let out = fails(
        sql,
        "",
        "unknown column `m` in `t`",
        "27:19",
        "m",
        &["The columns are: Country, n"],
    );
    assert!(
        out.contains(" 27 │   SELECT Country, m INTO u FROM t;"),
        "{out}"
    );
}

#[test]
fn rendering_shows_the_sql_line_and_the_label() {
    let out = fails(
        "SELECT Contry INTO t FROM sales;",
        "",
        "unknown column",
        "25:10",
        "Contry",
        &[],
    );
    assert!(
        out.contains(" 25 │   SELECT Contry INTO t FROM sales;"),
        "{out}"
    );
    assert!(out.contains("not a column of this table"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}

#[test]
fn a_config_without_sql_compiles_to_no_statements() {
    let compiled = compile("", "").unwrap_or_else(|e| panic!("{}", render(&e)));
    assert!(compiled.pipeline.statements.is_empty());
    assert_eq!(compiled.pipeline.sources.len(), 1);
    assert_eq!(compiled.pipeline.sources[0].columns.len(), 7);
}
