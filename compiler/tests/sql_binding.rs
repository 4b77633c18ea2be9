//! SQL binding that succeeds: name resolution, result types and nullability, keys, and the
//! implicit conversions (Postgres' rules), read from `compiled.pipeline.statements`.

mod common;

use common::compiled;
use dozerc::plan::{
    AggFunc, BinaryOp, Body, Column, Expr, ExprKind, Input, Literal, SqlType, Statement, TableKey,
};

/// (name, type, nullable) of every result column of statement `i`.
fn columns(statement: &Statement) -> Vec<(&str, SqlType, bool)> {
    statement
        .columns
        .iter()
        .map(|c: &Column| (c.name.as_str(), c.ty, c.nullable))
        .collect()
}

fn project(statement: &Statement) -> (Option<&Expr>, &[Expr]) {
    match &statement.body {
        Body::Project { filter, outputs } => (filter.as_ref(), outputs),
        other => panic!("expected a projection, got {other:?}"),
    }
}

#[test]
fn unquoted_identifiers_are_case_insensitive_and_keep_the_source_spelling() {
    let c = compiled("select customerid, COUNTRY into t from SALES where QUANTITY > 0;");
    let s = &c.pipeline.statements[0];
    assert_eq!(s.name, "t");
    assert_eq!(s.input, Input::Source(0));
    assert_eq!(
        columns(s),
        [
            ("CustomerID", SqlType::Int, true),
            ("Country", SqlType::String, true)
        ]
    );
    let (_, outputs) = project(s);
    assert_eq!(outputs[0].kind, ExprKind::Column(5));
    assert_eq!(outputs[1].kind, ExprKind::Column(6));
}

#[test]
fn quoted_identifiers_match_exactly() {
    let c =
        compiled("SELECT \"Country\", \"InvoiceNo\" AS \"Invoice No\" INTO \"T\" FROM \"sales\";");
    let s = &c.pipeline.statements[0];
    assert_eq!(
        columns(s),
        [
            ("Country", SqlType::String, true),
            ("Invoice No", SqlType::String, true)
        ]
    );
    assert_eq!(s.name, "T");
}

#[test]
fn qualified_columns_use_the_table_name_or_its_alias() {
    let c = compiled("SELECT sales.Country, s.Quantity INTO t FROM sales s;");
    let (_, outputs) = project(&c.pipeline.statements[0]);
    assert_eq!(
        outputs.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        [ExprKind::Column(6), ExprKind::Column(2)]
    );
}

#[test]
fn star_selects_every_column_in_order() {
    let c = compiled("SELECT * INTO t FROM sales;");
    let names: Vec<&str> = c.pipeline.statements[0]
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "InvoiceNo",
            "StockCode",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country"
        ]
    );
}

#[test]
fn int_times_decimal_is_decimal_with_a_cast_on_the_int_side() {
    let c = compiled("SELECT Quantity * UnitPrice AS amount, Quantity * 2 AS twice, UnitPrice / 2.5 AS d, Quantity * 1e2 AS f INTO t FROM sales;");
    let s = &c.pipeline.statements[0];
    assert_eq!(
        columns(s),
        [
            ("amount", SqlType::Decimal, true),
            ("twice", SqlType::Int, true),
            ("d", SqlType::Decimal, true),
            ("f", SqlType::Float, true),
        ]
    );
    let (_, outputs) = project(s);
    let ExprKind::Binary {
        op: BinaryOp::Mul,
        left,
        right,
    } = &outputs[0].kind
    else {
        panic!("expected a multiplication, got {:?}", outputs[0]);
    };
    assert_eq!((left.ty, right.ty), (SqlType::Decimal, SqlType::Decimal));
    let ExprKind::Cast(inner) = &left.kind else {
        panic!("expected a cast of Quantity, got {left:?}")
    };
    assert_eq!(
        (inner.kind.clone(), inner.ty),
        (ExprKind::Column(2), SqlType::Int)
    );
    assert_eq!(right.kind, ExprKind::Column(4));
}

#[test]
fn aggregate_result_types_follow_postgres() {
    let c = compiled(
        "SELECT Country, SUM(Quantity) AS q, SUM(UnitPrice) AS v, AVG(Quantity) AS avg_q, AVG(UnitPrice) AS avg_v,\n\
         MIN(InvoiceDate) AS first, MAX(StockCode) AS last_code, COUNT(*) AS n, COUNT(CustomerID) AS customers\n\
         INTO t FROM sales GROUP BY Country;",
    );
    let s = &c.pipeline.statements[0];
    assert_eq!(
        columns(s),
        [
            ("Country", SqlType::String, true),
            ("q", SqlType::Int, true),
            ("v", SqlType::Decimal, true),
            ("avg_q", SqlType::Decimal, true),
            ("avg_v", SqlType::Decimal, true),
            ("first", SqlType::Timestamp, true),
            ("last_code", SqlType::String, true),
            ("n", SqlType::Int, false),
            ("customers", SqlType::Int, false),
        ]
    );
    let Body::Aggregate {
        keys, aggregates, ..
    } = &s.body
    else {
        panic!("expected an aggregation")
    };
    assert_eq!(keys.len(), 1);
    let funcs: Vec<AggFunc> = aggregates.iter().map(|a| a.func).collect();
    use AggFunc::*;
    assert_eq!(funcs, [Sum, Sum, Avg, Avg, Min, Max, Count, Count]);
    assert!(aggregates[6].arg.is_none(), "COUNT(*) has no argument");
    assert_eq!(
        s.key,
        TableKey::Tuple {
            types: vec![SqlType::String],
            columns: vec![Some(0)]
        }
    );
}

#[test]
fn function_names_are_default_column_names() {
    let c = compiled("SELECT Country, sum(Quantity), COUNT(*) INTO t FROM sales GROUP BY Country;");
    assert_eq!(
        columns(&c.pipeline.statements[0]),
        [
            ("Country", SqlType::String, true),
            ("sum", SqlType::Int, true),
            ("count", SqlType::Int, false)
        ]
    );
}

#[test]
fn having_shares_aggregates_with_the_select_list() {
    let c = compiled("SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country HAVING COUNT(*) > 1 AND MAX(Quantity) < 100;");
    let s = &c.pipeline.statements[0];
    let Body::Aggregate {
        aggregates,
        having,
        outputs,
        ..
    } = &s.body
    else {
        panic!("expected an aggregation")
    };
    // COUNT(*) is computed once; MAX(Quantity) only for HAVING.
    assert_eq!(
        aggregates.iter().map(|a| a.func).collect::<Vec<_>>(),
        [AggFunc::Count, AggFunc::Max]
    );
    assert_eq!(outputs[0].kind, ExprKind::GroupKey(0));
    assert_eq!(outputs[1].kind, ExprKind::Aggregate(0));
    let having = having.as_ref().expect("HAVING is bound");
    assert_eq!(having.ty, SqlType::Boolean);
    let ExprKind::Binary {
        op: BinaryOp::And,
        left,
        ..
    } = &having.kind
    else {
        panic!("{having:?}")
    };
    let ExprKind::Binary {
        op: BinaryOp::Gt,
        left: count,
        ..
    } = &left.kind
    else {
        panic!("{left:?}")
    };
    assert_eq!(count.kind, ExprKind::Aggregate(0));
}

#[test]
fn grouped_expressions_may_be_reused_in_the_select_list() {
    let c = compiled("SELECT CustomerID % 10 AS bucket, COUNT(*) AS n INTO t FROM sales GROUP BY CustomerID % 10;");
    let s = &c.pipeline.statements[0];
    let Body::Aggregate { outputs, keys, .. } = &s.body else {
        panic!("expected an aggregation")
    };
    assert_eq!(outputs[0].kind, ExprKind::GroupKey(0));
    assert!(matches!(
        keys[0].kind,
        ExprKind::Binary {
            op: BinaryOp::Rem,
            ..
        }
    ));
    assert_eq!(
        s.key,
        TableKey::Tuple {
            types: vec![SqlType::Int],
            columns: vec![Some(0)]
        }
    );
}

#[test]
fn global_aggregate_has_an_empty_key() {
    let c = compiled(
        "SELECT COUNT(*) AS n, SUM(Quantity * UnitPrice) AS revenue INTO totals FROM sales;",
    );
    let s = &c.pipeline.statements[0];
    assert_eq!(
        columns(s),
        [
            ("n", SqlType::Int, false),
            ("revenue", SqlType::Decimal, true)
        ]
    );
    assert_eq!(
        s.key,
        TableKey::Tuple {
            types: vec![],
            columns: vec![]
        }
    );
    assert!(matches!(&s.body, Body::Aggregate { keys, .. } if keys.is_empty()));
}

#[test]
fn a_statement_reads_an_earlier_result() {
    let c = compiled(
        "SELECT Country, COUNT(*) AS n INTO by_country FROM sales GROUP BY Country;\n\
         SELECT n, Country AS c INTO busy FROM by_country WHERE n > 1;\n\
         SELECT n INTO counts FROM by_country;",
    );
    let [_, busy, counts] = &c.pipeline.statements[..] else {
        panic!("three statements")
    };
    assert_eq!(busy.input, Input::Statement(0));
    assert_eq!(
        columns(busy),
        [("n", SqlType::Int, false), ("c", SqlType::String, true)]
    );
    // The group key (Country) is carried through, now as column 1.
    assert_eq!(
        busy.key,
        TableKey::Tuple {
            types: vec![SqlType::String],
            columns: vec![Some(1)]
        }
    );
    // Dropping the key column keeps the key, invisible.
    assert_eq!(
        counts.key,
        TableKey::Tuple {
            types: vec![SqlType::String],
            columns: vec![None]
        }
    );
    assert_eq!(c.pipeline.downstream_of(0), [0, 1, 2]);
}

#[test]
fn with_queries_and_subqueries_become_hidden_statements_read_by_the_statement() {
    let c = compiled(
        "WITH big AS (SELECT Country, Quantity FROM sales WHERE Quantity > 10), \
              per AS (SELECT Country, COUNT(*) AS n FROM big GROUP BY Country) \
         SELECT Country, n INTO busy FROM per WHERE n > 1;\n\
         SELECT c, total INTO totals FROM (SELECT Country AS c, SUM(Quantity) AS total FROM sales GROUP BY Country) s;",
    );
    let names: Vec<&str> = c
        .pipeline
        .statements
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["busy__big", "busy__per", "busy", "totals__s", "totals"]
    );
    let s = &c.pipeline.statements;
    assert_eq!(s[1].input, Input::Statement(0), "per reads big");
    assert_eq!(s[2].input, Input::Statement(1), "busy reads per");
    assert_eq!(s[4].input, Input::Statement(3));
    assert_eq!(
        columns(&s[4]),
        [("c", SqlType::String, true), ("total", SqlType::Int, true)]
    );
    // A WITH name is visible only inside its statement.
    let err = common::compile(
        "WITH x AS (SELECT Country FROM sales) SELECT Country INTO a FROM x;\n\
         SELECT Country INTO b FROM x;",
        "",
    )
    .err()
    .expect("x is not visible to the second statement");
    assert!(dozerc::diagnostics::render(&err).contains("unknown table `x`"));
    // A WITH query qualifies its columns by the name it was given.
    let c = compiled(
        "WITH big AS (SELECT Country, Quantity FROM sales WHERE Quantity > 10) \
         SELECT big.Country, big.Quantity INTO q FROM big;",
    );
    assert_eq!(c.pipeline.statements[1].input, Input::Statement(0));
}

#[test]
fn projections_of_a_source_are_keyed_by_record_id() {
    let c = compiled("SELECT InvoiceNo INTO t FROM sales;");
    assert_eq!(c.pipeline.statements[0].key, TableKey::RecordId);
}

#[test]
fn string_literal_compared_with_a_timestamp_is_a_timestamp() {
    let c = compiled("SELECT InvoiceNo INTO t FROM sales WHERE InvoiceDate > '2011-01-01' AND '2012-06-30 12:00:00' >= InvoiceDate;");
    let (filter, _) = project(&c.pipeline.statements[0]);
    let filter = filter.expect("WHERE is bound");
    assert_eq!(filter.ty, SqlType::Boolean);
    let ExprKind::Binary {
        op: BinaryOp::And,
        left,
        right,
    } = &filter.kind
    else {
        panic!("{filter:?}")
    };
    let ExprKind::Binary {
        op: BinaryOp::Gt,
        left: date,
        right: lit,
    } = &left.kind
    else {
        panic!("{left:?}")
    };
    assert_eq!(date.kind, ExprKind::Column(3));
    // 2011-01-01T00:00:00Z in microseconds.
    assert_eq!(
        lit.kind,
        ExprKind::Literal(Literal::Timestamp(1_293_840_000_000_000))
    );
    assert_eq!(lit.ty, SqlType::Timestamp);
    let ExprKind::Binary {
        op: BinaryOp::GtEq,
        left: lit,
        ..
    } = &right.kind
    else {
        panic!("{right:?}")
    };
    assert_eq!(
        lit.kind,
        ExprKind::Literal(Literal::Timestamp(1_341_057_600_000_000))
    );
}

#[test]
fn string_literal_compared_with_numbers_takes_their_type() {
    let c =
        compiled("SELECT InvoiceNo INTO t FROM sales WHERE Quantity = '5' OR UnitPrice < '2.50';");
    let (filter, _) = project(&c.pipeline.statements[0]);
    let ExprKind::Binary {
        op: BinaryOp::Or,
        left,
        right,
    } = &filter.expect("WHERE").kind
    else {
        panic!()
    };
    let ExprKind::Binary { right: five, .. } = &left.kind else {
        panic!("{left:?}")
    };
    assert_eq!(five.kind, ExprKind::Literal(Literal::Int(5)));
    let ExprKind::Binary { right: price, .. } = &right.kind else {
        panic!("{right:?}")
    };
    assert_eq!(
        (price.kind.clone(), price.ty),
        (
            ExprKind::Literal(Literal::Decimal("2.50".into())),
            SqlType::Decimal
        )
    );
}

#[test]
fn null_handling_types() {
    let c = compiled(
        "SELECT CustomerID IS NULL AS missing, CAST(NULL AS NUMERIC) AS nothing, Quantity + NULL AS q INTO t FROM sales WHERE NULL;",
    );
    let s = &c.pipeline.statements[0];
    assert_eq!(
        columns(s),
        [
            ("missing", SqlType::Boolean, false),
            ("nothing", SqlType::Decimal, true),
            ("q", SqlType::Int, true)
        ]
    );
    let (filter, _) = project(s);
    assert_eq!(filter.map(|f| f.ty), Some(SqlType::Boolean));
}

#[test]
fn statement_records_its_sql_and_config_line() {
    let c = compiled("SELECT Country INTO a FROM sales;\n\nSELECT Country\nINTO b\nFROM sales;");
    let [a, b] = &c.pipeline.statements[..] else {
        panic!("two statements")
    };
    assert_eq!(
        (a.sql.as_str(), a.line),
        ("SELECT Country INTO a FROM sales;", 25)
    );
    // SQL line 3 is YAML line 27.
    assert_eq!(b.line, 27);
    assert!(
        b.sql.starts_with("SELECT Country\nINTO b\nFROM sales"),
        "{:?}",
        b.sql
    );
}

#[test]
fn endpoints_bind_to_statements_and_sources_case_insensitively() {
    let eps = "endpoints:\n  - name: by_country\n    path: /c\n    table_name: BY_COUNTRY\n    index:\n      primary_key: [country]\n  - name: raw\n    path: /raw\n    table_name: sales\n";
    let c = common::compile(
        "SELECT Country, COUNT(*) AS n INTO by_country FROM sales GROUP BY Country;",
        eps,
    )
    .unwrap_or_else(|e| panic!("{}", dozerc::diagnostics::render(&e)));
    let tables: Vec<(&str, Input)> = c
        .pipeline
        .endpoints
        .iter()
        .map(|e| (e.path.as_str(), e.table))
        .collect();
    assert_eq!(
        tables,
        [("/c", Input::Statement(0)), ("/raw", Input::Source(0))]
    );
}

#[test]
fn aggregating_a_window_groups_by_it_even_without_group_by() {
    // The seed's daily_sales shape (no GROUP BY, `AS end`), over TUMBLE.
    let c = compiled(
        "SELECT SUM(t.Quantity * t.UnitPrice) as total_sales, t.window_start as start, \
         t.window_end AS end INTO daily_sales FROM TUMBLE(sales, InvoiceDate, '1 DAY') t;",
    );
    let s = &c.pipeline.statements[0];
    assert_eq!(
        s.window,
        Some(dozerc::plan::Window {
            kind: dozerc::plan::WindowKind::Tumble {
                size_us: 86_400_000_000
            },
            time_column: 3,
        })
    );
    assert_eq!(
        columns(s),
        [
            ("total_sales", SqlType::Decimal, true),
            ("start", SqlType::Timestamp, false),
            ("end", SqlType::Timestamp, false)
        ]
    );
    // One row per window: the key is (window_start, window_end), both served.
    assert_eq!(
        s.key,
        TableKey::Tuple {
            types: vec![SqlType::Timestamp, SqlType::Timestamp],
            columns: vec![Some(1), Some(2)],
        }
    );

    // With GROUP BY, the window is part of the key too, served or not.
    let c = compiled(
        "SELECT Country, COUNT(*) AS n INTO per_country \
         FROM HOP(sales, InvoiceDate, '6 HOURS', '1 DAY') GROUP BY Country;",
    );
    let s = &c.pipeline.statements[0];
    assert_eq!(
        s.key,
        TableKey::Tuple {
            types: vec![SqlType::String, SqlType::Timestamp, SqlType::Timestamp],
            columns: vec![Some(0), None, None],
        }
    );
    // The time column is decoded even though no expression names it.
    assert!(c.pipeline.used_source_columns(0).contains(&3));
}
