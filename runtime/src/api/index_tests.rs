//! Secondary indexes, query plans and `$after` cursors against a real store: indexed results
//! equal the unindexed ones (randomized), indexed requests read far fewer rows, and cursors
//! page stably while rows change.

use super::fixtures::{row, Row, DECL};
use super::plan::Plan;
use super::*;
use crate::cache::{EndpointTable, Store};
use crate::types::{Decimal, Delta};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// Rows keyed by `n`, so that a table can hold many.
type NKey = (i64,);

const INDEXED: EndpointDecl = EndpointDecl {
    primary_key: &["n"],
    ..DECL
};
const UNINDEXED: EndpointDecl = EndpointDecl {
    indexes: &[],
    ..INDEXED
};

/// A store, the same table seen with and without indexes, and a model of its rows.
struct Fixture {
    store: Store,
    table: EndpointTable<NKey, Row>,
    indexed: TypedEndpoint<NKey, Row>,
    unindexed: TypedEndpoint<NKey, Row>,
    rows: BTreeMap<i64, Row>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.redb")).unwrap();
        let table = EndpointTable::<NKey, Row>::with_indexes(INDEXED.name, INDEXED.indexes);
        store.create_tables(&table.table_names()).unwrap();
        Fixture {
            indexed: TypedEndpoint::new(store.clone(), INDEXED),
            unindexed: TypedEndpoint::new(store.clone(), UNINDEXED),
            store,
            table,
            rows: BTreeMap::new(),
            _dir: dir,
        }
    }

    /// Upserts and deletes (`None`) in one transaction, as the pipeline writes.
    fn write(&mut self, changes: Vec<(i64, Option<Row>)>) {
        let deltas: Vec<Delta<NKey, Row>> = changes
            .iter()
            .map(|(n, new)| match new {
                Some(r) => Delta {
                    key: (*n,),
                    old: self.rows.get(n).cloned(),
                    new: Some(r.clone()),
                },
                None => Delta::delete((*n,), self.rows[n].clone()),
            })
            .collect();
        for (n, new) in changes {
            match new {
                Some(r) => self.rows.insert(n, r),
                None => self.rows.remove(&n),
            };
        }
        let txn = self.store.begin_write().unwrap();
        self.table.apply(&txn, &deltas).unwrap();
        txn.commit().unwrap();
    }
}

const COUNTRIES: [Option<&str>; 5] = [Some("UK"), Some("FR"), Some("ES"), Some("Atlantis"), None];

fn random_row(rng: &mut StdRng, n: i64) -> Row {
    let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
    // Few distinct totals, written at different scales (1.0 = 1.00): many ties.
    let total =
        Decimal::new(rng.random_range(-3..8), 0) + Decimal::new(rng.random_range(0..2) * 5, 1);
    let mut total = total;
    total.rescale(rng.random_range(1..4));
    Row {
        Country: country.map(str::to_string),
        Total: total,
        n,
    }
}

fn random_query(rng: &mut StdRng) -> Json {
    let mut q = serde_json::Map::new();
    let mut country = || -> Json {
        match COUNTRIES[rng.random_range(0..COUNTRIES.len())] {
            Some(c) => json!(c),
            None => Json::Null,
        }
    };
    let (c1, c2, c3) = (country(), country(), country());
    let filter = match rng.random_range(0..10) {
        0 => None,
        1 => Some(json!({"Country": c1})),
        2 => Some(json!({"Country": {"$in": [c1, c2]}})),
        3 => Some(
            json!({"Total": {"$gte": rng.random_range(-3..8), "$lt": rng.random_range(-3..8)}}),
        ),
        4 => Some(json!({"Total": {"$gt": format!("{}.50", rng.random_range(-3..8))}})),
        5 => Some(json!({"Country": c3, "Total": {"$lte": rng.random_range(-3..8)}})),
        6 => Some(json!({"n": {"$gt": rng.random_range(0..300)}, "Country": {"$ne": "UK"}})),
        7 => Some(json!({"$or": [{"Country": c2}, {"Total": rng.random_range(-3..8)}]})),
        8 => Some(json!({"Total": rng.random_range(-3..8)})),
        _ => Some(json!({"n": {"$in": [rng.random_range(0..300), rng.random_range(0..300)]}})),
    };
    if let Some(f) = filter {
        q.insert("$filter".into(), f);
    }
    let dir = |rng: &mut StdRng| if rng.random() { "asc" } else { "desc" };
    let order = match rng.random_range(0..7) {
        0 | 1 => None,
        2 => Some(json!({"Total": dir(rng)})),
        3 => Some(json!({"n": dir(rng)})),
        4 => {
            let d = dir(rng);
            Some(json!([{"Country": d}, {"Total": d}]))
        }
        5 => Some(json!([{"Country": dir(rng)}, {"Total": dir(rng)}])),
        _ => Some(json!({"Country": dir(rng)})),
    };
    if let Some(o) = order {
        q.insert("$order_by".into(), o);
    }
    q.insert("$limit".into(), json!(rng.random_range(0..40)));
    if rng.random_ratio(1, 3) {
        q.insert("$skip".into(), json!(rng.random_range(0..20)));
    }
    Json::Object(q)
}

fn parse(json: &Json) -> Query {
    Query::parse(json, DECL.fields).unwrap()
}

fn ns(rows: &[Row]) -> Vec<i64> {
    rows.iter().map(|r| r.n).collect()
}

#[test]
fn indexed_results_equal_scanned_results() {
    let mut rng = StdRng::seed_from_u64(42);
    let mut f = Fixture::new();
    let mut plans = BTreeMap::<String, usize>::new();
    for round in 0..12 {
        // Inserts, updates (moving rows between index entries) and deletes.
        let mut changes = Vec::new();
        for _ in 0..60 {
            let n = rng.random_range(0..300);
            if f.rows.contains_key(&n) && rng.random_ratio(1, 4) {
                if !changes.iter().any(|(m, _)| *m == n) {
                    changes.push((n, None));
                }
            } else if !changes.iter().any(|(m, _)| *m == n) {
                changes.push((n, Some(random_row(&mut rng, n))));
            }
        }
        f.write(changes);
        for _ in 0..80 {
            let json = random_query(&mut rng);
            let q = parse(&json);
            let plan = f.indexed.plan(&q);
            *plans
                .entry(
                    format!("{plan:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap()
                        .to_string(),
                )
                .or_default() += 1;
            let (a, b) = (f.indexed.page(&q).unwrap(), f.unindexed.page(&q).unwrap());
            assert_eq!(
                ns(&a.rows),
                ns(&b.rows),
                "round {round}: {json} with {plan:?}"
            );
            assert_eq!(a.next_cursor, b.next_cursor, "{json}");
            let (ca, cb) = (
                f.indexed.count_matching(&q).unwrap(),
                f.unindexed.count_matching(&q).unwrap(),
            );
            assert_eq!(ca.0, cb.0, "count of {json}");
        }
    }
    // Every kind of plan was exercised.
    for kind in ["KeyOrder", "FullSort", "IndexFilter", "IndexOrder"] {
        assert!(plans.get(kind).is_some_and(|n| *n > 20), "{plans:?}");
    }
}

/// Pages through `query` with `$after` on `endpoint`, applying `between` after each page.
fn walk(
    f: &mut Fixture,
    query: &Json,
    indexed: bool,
    mut between: impl FnMut(&mut Fixture, usize),
) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for page_no in 0..1000 {
        let mut q = parse(query);
        q.after = after.clone();
        let ep = if indexed { &f.indexed } else { &f.unindexed };
        let page = ep.page(&q).unwrap();
        seen.extend(ns(&page.rows));
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return seen,
        }
        between(f, page_no);
    }
    panic!("no end of pages");
}

#[test]
fn cursors_walk_every_row_once_in_order() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut f = Fixture::new();
    f.write(
        (0..250)
            .map(|n| (n, Some(random_row(&mut rng, n))))
            .collect(),
    );
    for query in [
        json!({"$limit": 7}),
        json!({"$limit": 7, "$order_by": {"Total": "desc"}}),
        json!({"$limit": 7, "$order_by": {"Total": "asc"}}),
        json!({"$limit": 7, "$order_by": [{"Country": "desc"}, {"Total": "desc"}]}),
        json!({"$limit": 7, "$order_by": [{"Country": "asc"}, {"Total": "desc"}]}),
        json!({"$limit": 7, "$filter": {"Country": "UK"}, "$order_by": {"Total": "desc"}}),
        json!({"$limit": 7, "$filter": {"Country": {"$in": ["UK", "FR"]}}}),
        json!({"$limit": 7, "$filter": {"Total": {"$gt": 2}}, "$order_by": {"n": "desc"}}),
    ] {
        let mut all = parse(&query);
        all.limit = Some(MAX_LIMIT);
        let expected = ns(&f.unindexed.page(&all).unwrap().rows);
        assert_eq!(walk(&mut f, &query, true, |_, _| {}), expected, "{query}");
        assert_eq!(walk(&mut f, &query, false, |_, _| {}), expected, "{query}");
    }
}

#[test]
fn cursors_stay_stable_while_rows_change() {
    for (seed, query) in [
        json!({"$limit": 9}),
        json!({"$limit": 9, "$order_by": {"Total": "desc"}}),
        json!({"$limit": 9, "$order_by": {"Total": "asc"}}),
        json!({"$limit": 9, "$filter": {"Country": "FR"}, "$order_by": {"Total": "desc"}}),
        json!({"$limit": 9, "$order_by": [{"Country": "desc"}, {"Total": "asc"}]}),
    ]
    .into_iter()
    .enumerate()
    {
        for indexed in [true, false] {
            let mut rng = StdRng::seed_from_u64(seed as u64);
            let mut f = Fixture::new();
            f.write(
                (0..200)
                    .map(|n| (n, Some(random_row(&mut rng, n))))
                    .collect(),
            );
            let before: Vec<i64> = f.rows.keys().copied().collect();
            let mut touched = std::collections::HashSet::new();
            let seen = walk(&mut f, &query, indexed, |f, page| {
                // New rows, deleted rows and rows moved to other sort positions.
                let mut changes = Vec::new();
                for i in 0..4 {
                    let n = 1000 + page as i64 * 10 + i;
                    changes.push((n, Some(random_row(&mut rng, n))));
                    touched.insert(n);
                }
                for _ in 0..3 {
                    let n = rng.random_range(0..200);
                    if touched.insert(n) && f.rows.contains_key(&n) {
                        let change = if rng.random() {
                            None
                        } else {
                            Some(random_row(&mut rng, n))
                        };
                        changes.push((n, change));
                    }
                }
                f.write(changes);
            });
            // A row updated to a later sort position shows again (a new version of it); no
            // other row repeats.
            let mut kept: Vec<i64> = seen
                .iter()
                .copied()
                .filter(|n| !touched.contains(n) || *n >= 1000)
                .collect();
            let total = kept.len();
            kept.sort_unstable();
            kept.dedup();
            assert_eq!(kept.len(), total, "duplicates in {query}: {seen:?}");
            // Rows untouched throughout that match the query all appear.
            let filter = parse(&query);
            for n in before.iter().filter(|n| !touched.contains(n)) {
                if filter.matches(&f.rows[n]) {
                    assert!(
                        seen.contains(n),
                        "row {n} skipped by {query} (indexed {indexed})"
                    );
                }
            }
        }
    }
}

#[test]
fn indexes_read_far_fewer_rows_than_the_table_holds() {
    let mut f = Fixture::new();
    let rows: Vec<(i64, Option<Row>)> = (0..5000)
        .map(|n| {
            let country = if n % 500 == 0 { "Atlantis" } else { "UK" };
            (n, Some(row(Some(country), n % 97, n)))
        })
        .collect();
    f.write(rows);
    let scanned = |q: Json| {
        let q = parse(&q);
        let (a, b) = (f.indexed.page(&q).unwrap(), f.unindexed.page(&q).unwrap());
        assert_eq!(ns(&a.rows), ns(&b.rows));
        (a.scanned, b.scanned)
    };
    // A rare value: its 10 index entries (and one look at each group of equal totals, walked
    // backwards), instead of 5000 rows.
    let (indexed, full) =
        scanned(json!({"$filter": {"Country": "Atlantis"}, "$order_by": {"Total": "desc"}}));
    assert!(indexed <= 20 && full == 5000, "{indexed} vs {full}");
    let (indexed, _) =
        scanned(json!({"$filter": {"Country": "Atlantis"}, "$order_by": {"Total": "asc"}}));
    assert_eq!(indexed, 10);
    // A sorted page: the page, instead of every row.
    let (indexed, full) = scanned(json!({"$order_by": {"n": "desc"}, "$limit": 20}));
    assert!(indexed <= 21 && full == 5000, "{indexed} vs {full}");
    // Descending with ties: each group of equal values is one extra read.
    let (indexed, full) = scanned(json!({"$order_by": {"Total": "desc"}, "$limit": 100}));
    assert!(indexed <= 200 && full == 5000, "{indexed} vs {full}");
    // A range: the rows in it.
    let (indexed, full) = scanned(
        json!({"$filter": {"n": {"$gte": 100, "$lt": 150}}, "$order_by": {"Total": "asc"}}),
    );
    assert!(indexed == 50 && full == 5000, "{indexed} vs {full}");
    // Counting a filter by index.
    let q = parse(&json!({"$filter": {"Country": "Atlantis"}}));
    assert_eq!(f.indexed.count_matching(&q).unwrap(), (10, 10));
    assert_eq!(f.unindexed.count_matching(&q).unwrap(), (10, 5000));
    assert_eq!(
        f.indexed.count_matching(&Query::default()).unwrap(),
        (5000, 0)
    );
    // Not served by an index: everything is read, as before.
    assert!(matches!(
        f.indexed
            .plan(&parse(&json!({"$filter": {"$or": [{"n": 1}]}}))),
        Plan::KeyOrder
    ));
}

#[test]
fn bad_cursors_are_bad_requests() {
    let mut f = Fixture::new();
    f.write((0..20).map(|n| (n, Some(row(Some("UK"), n, n)))).collect());
    let q = parse(&json!({"$order_by": {"Total": "desc"}, "$limit": 5}));
    let cursor = f.indexed.page(&q).unwrap().next_cursor.unwrap();
    let with = |mut q: Query| {
        q.after = Some(cursor.clone());
        f.indexed
            .page(&q)
            .map(|p| ns(&p.rows))
            .map_err(|e| e.to_string())
    };
    assert_eq!(with(q.clone()), Ok(vec![14, 13, 12, 11, 10]));
    let skipping = Query {
        skip: 2,
        ..q.clone()
    };
    assert_eq!(
        with(skipping),
        Err("$after and $skip cannot be combined: the cursor already says where the page starts; drop $skip".into())
    );
    let reordered = parse(&json!({"$order_by": {"Total": "asc"}}));
    let e = with(reordered).unwrap_err();
    assert!(e.starts_with("$after: this cursor continues a query with $order_by {\"Total\": \"desc\"}, but this query has $order_by {\"Total\": \"asc\"}"), "{e}");
    let e = with(Query::default()).unwrap_err();
    assert!(
        e.contains("but this query has $order_by (none: primary key order)"),
        "{e}"
    );
    let garbage = Query {
        after: Some("not-a-cursor".into()),
        ..q.clone()
    };
    let e = f.indexed.page(&garbage).unwrap_err();
    assert!(matches!(e, ApiError::BadRequest(_)));
    assert_eq!(
        e.to_string(),
        "$after: `not-a-cursor` is not a cursor of endpoint `sales`; send the x-dozer-next-cursor of a previous response unchanged"
    );
    // A page that is not full has no next cursor; an empty page neither.
    let last = Query {
        after: Some(cursor.clone()),
        limit: Some(100),
        ..q.clone()
    };
    assert_eq!(f.indexed.page(&last).unwrap().next_cursor, None);
}
