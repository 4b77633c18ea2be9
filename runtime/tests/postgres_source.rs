//! The Postgres source against a live server (127.0.0.1:5432, user `postgres`, trust auth,
//! `wal_level=logical`). Run: `cargo test -p dozer-runtime --features postgres --test postgres_source`.
//! Each test uses its own database and slot, both dropped at the end.
#![cfg(feature = "postgres")]

mod postgres_support;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use dozer_runtime::sources::postgres::{format_lsn, PgSourceError};
use dozer_runtime::types::{FieldDef, FieldType, Value};
use postgres_support::{
    commit_txn, connect, expect_idle, id_of, inserted_ids, next, select_rows, Replica, Rng, TestDb,
    T_SQL,
};

const T_FIELDS: &[FieldDef] = &[
    FieldDef::new("id", FieldType::Int, false),
    FieldDef::new("v", FieldType::String, true),
    FieldDef::new("n", FieldType::Int, true),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_plus_stream_equals_the_table_under_concurrent_writes() {
    let db = TestDb::new(
        "boundary",
        &format!(
            "{T_SQL} INSERT INTO t SELECT g, 'initial ' || g, g FROM generate_series(1, 2000) g;"
        ),
    )
    .await;
    let writer_client = connect(&db.conn.database).await;
    let writer = tokio::spawn(async move {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for k in 0..400u64 {
            let mut sql = String::from("BEGIN;");
            for _ in 0..1 + rng.below(4) {
                let id = 1 + rng.below(3000);
                sql += &match rng.below(3) {
                    0 => format!("INSERT INTO t VALUES ({id}, 'ins {k}', {k}) ON CONFLICT (id) DO UPDATE SET v = 'upsert {k}';"),
                    1 => format!("UPDATE t SET v = 'upd {k}', n = n + 1 WHERE id = {id};"),
                    _ => format!("DELETE FROM t WHERE id = {id};"),
                };
            }
            if k % 50 == 0 {
                sql += &format!(
                    "UPDATE t SET id = id + 100000 WHERE id = {};",
                    1 + rng.below(2000)
                );
            }
            if k == 200 {
                // Larger than one batch: arrives split.
                sql +=
                    "INSERT INTO t SELECT g, 'bulk', NULL FROM generate_series(200001, 270000) g;";
            }
            sql += "COMMIT;";
            writer_client.batch_execute(&sql).await.unwrap();
            if k % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        writer_client
            .batch_execute("INSERT INTO t VALUES (-1, 'done', NULL)")
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(30)).await;

    let mut source = db.open(vec![db.table("t", T_FIELDS)], None).await.unwrap();
    assert_eq!(source.primary_key(0), Some(&[0usize][..]));
    let mut replica = Replica::default();
    let mut split_batches = 0;
    let mut snapshot_done = false;
    let (mut snapshot_rows, mut streamed_txns) = (0, 0);
    loop {
        let batch = next(&mut source).await;
        if batch.end.is_none() && snapshot_done {
            split_batches += 1;
        }
        if snapshot_done {
            streamed_txns += usize::from(batch.end.is_some());
        } else {
            snapshot_rows += batch.changes.len();
        }
        let done = batch
            .changes
            .iter()
            .any(|c| c.new.as_ref().is_some_and(|r| r[0] == Value::Int(-1)));
        if let Some(end) = replica.apply(batch) {
            snapshot_done = true;
            source.ack(end).await.unwrap();
            if done {
                break;
            }
        }
    }
    writer.await.unwrap();
    eprintln!("snapshot rows {snapshot_rows}, streamed transactions {streamed_txns}, split batches {split_batches}");
    assert!(streamed_txns > 0, "the writer finished before the snapshot");
    assert!(
        split_batches >= 1,
        "the 70,000-row transaction was not split"
    );
    let live = select_rows(&db.client, "SELECT id, v, n FROM t", T_FIELDS).await;
    assert_eq!(replica.rows.len(), live.len());
    assert!(replica.rows == live, "replica differs from the table");
    drop(source);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_delivers_exactly_the_later_transactions() {
    let db = TestDb::new(
        "resume",
        &format!("{T_SQL} INSERT INTO t VALUES (1, 'a', 1); CREATE TABLE unpublished (x int);"),
    )
    .await;
    let mut source = db.open(vec![db.table("t", T_FIELDS)], None).await.unwrap();
    let snapshot = next(&mut source).await;
    assert_eq!(inserted_ids(&snapshot), vec![1]);
    let point = snapshot.end.unwrap();
    source.ack(point).await.unwrap();
    for k in 1..=5 {
        commit_txn(&db.client, k).await;
    }
    let mut ends = Vec::new();
    for k in 1..=5 {
        let batch = next(&mut source).await;
        assert_eq!(inserted_ids(&batch), vec![1000 + k]);
        ends.push(batch.end.unwrap());
    }
    // The server hears of txn 2; the caller durably committed up to txn 3 (its ack was lost).
    source.ack(ends[1]).await.unwrap();
    drop(source);
    for k in 6..=8 {
        commit_txn(&db.client, k).await;
    }
    let stored = ends[2];
    let mut source = db
        .open(vec![db.table("t", T_FIELDS)], Some(stored))
        .await
        .unwrap();
    let mut last = 0;
    for k in 4..=8 {
        let batch = next(&mut source).await;
        assert_eq!(
            inserted_ids(&batch),
            vec![1000 + k],
            "after resuming at {}",
            format_lsn(stored)
        );
        last = batch.end.unwrap();
        assert!(last > stored);
    }
    source.ack(last).await.unwrap();
    // Idle with everything acknowledged: traffic outside the publication only brings keepalives,
    // whose position the source acknowledges so the slot does not hold that WAL.
    for x in 0..20 {
        db.client
            .batch_execute(&format!("INSERT INTO unpublished VALUES ({x})"))
            .await
            .unwrap();
    }
    expect_idle(&mut source, Duration::from_millis(1500)).await;
    let confirmed: i64 = db
        .client
        .query_one(
            "SELECT (confirmed_flush_lsn - '0/0')::int8 FROM pg_replication_slots WHERE slot_name = $1",
            &[&db.slot],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        confirmed as u64 > last,
        "slot at {} after acking {}",
        format_lsn(confirmed as u64),
        format_lsn(last)
    );
    drop(source);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_replica_identity_full_names_the_fix() {
    let db = TestDb::new(
        "identity",
        "CREATE TABLE plain (id int8 PRIMARY KEY, v text, n int8);",
    )
    .await;
    let err = db
        .open(vec![db.table("plain", T_FIELDS)], None)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, PgSourceError::ReplicaIdentity { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("ALTER TABLE public.plain REPLICA IDENTITY FULL;"),
        "{err}"
    );
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_without_the_slot_asks_for_a_re_snapshot() {
    let db = TestDb::new("noslot", T_SQL).await;
    let err = db
        .open(vec![db.table("t", T_FIELDS)], Some(0x1_0000))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, PgSourceError::MissingSlot { slot } if *slot == db.slot),
        "{err:?}"
    );
    assert!(err.to_string().contains("re-snapshot"), "{err}");
    db.drop().await;
}

const TY_FIELDS: &[FieldDef] = &[
    FieldDef::new("id", FieldType::Int, false),
    FieldDef::new("flag", FieldType::Boolean, true),
    FieldDef::new("big", FieldType::Int, true),
    FieldDef::new("amount", FieldType::Decimal, true),
    FieldDef::new("txt", FieldType::Text, true),
    FieldDef::new("ts", FieldType::Timestamp, true),
    FieldDef::new("tstz", FieldType::Timestamp, true),
    FieldDef::new("d", FieldType::Date, true),
    FieldDef::new("j", FieldType::Json, true),
    FieldDef::new("b", FieldType::Binary, true),
    FieldDef::new("toasted", FieldType::Text, true),
];

const TY_SQL: &str =
    "CREATE TABLE ty (id int8 PRIMARY KEY, flag bool, big int8, amount numeric(20,6),
        txt text, ts timestamp, tstz timestamptz, d date, j jsonb, b bytea, toasted text);
     ALTER TABLE ty REPLICA IDENTITY FULL;";

fn ty_insert(id: i64) -> String {
    format!(
        "INSERT INTO ty VALUES ({id}, true, 9223372036854775807, 12345.678900, 'quote '' ünï 😀',
           '2024-02-29 13:45:56.123456', '2024-02-29 13:45:56.123456+05:30', '2024-02-29',
           '{{\"a\": [1, 2.50, null]}}', '\\x00ff10',
           (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g));
         INSERT INTO ty (id) VALUES ({});",
        id + 1
    )
}

fn expected_ty_row(id: i64, toasted: &str) -> Vec<Value> {
    let p = |t: &str, ty| Value::parse(t, ty).unwrap();
    vec![
        Value::Int(id),
        Value::Boolean(true),
        Value::Int(i64::MAX),
        p("12345.678900", FieldType::Decimal),
        Value::String("quote ' ünï 😀".into()),
        p("2024-02-29T13:45:56.123456Z", FieldType::Timestamp),
        p("2024-02-29T08:15:56.123456Z", FieldType::Timestamp),
        p("2024-02-29", FieldType::Date),
        Value::Json(serde_json::json!({"a": [1, 2.50, null]})),
        Value::Binary(vec![0x00, 0xff, 0x10]),
        Value::String(toasted.into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_decode_into_their_types_in_snapshot_and_stream() {
    let db = TestDb::new("types", &format!("{TY_SQL} {}", ty_insert(1))).await;
    let toasted: String = db
        .client
        .query_one(
            "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let mut source = db
        .open(vec![db.table("ty", TY_FIELDS)], None)
        .await
        .unwrap();
    let snapshot = next(&mut source).await;
    let mut rows: Vec<Vec<Value>> = snapshot
        .changes
        .into_iter()
        .map(|c| c.new.unwrap())
        .collect();
    rows.sort_by_key(|r| id_of(r));
    let mut null_row = vec![Value::Null; TY_FIELDS.len()];
    null_row[0] = Value::Int(2);
    assert_eq!(rows, vec![expected_ty_row(1, &toasted), null_row.clone()]);

    db.client.batch_execute(&ty_insert(3)).await.unwrap();
    let batch = next(&mut source).await;
    null_row[0] = Value::Int(4);
    let new: Vec<_> = batch
        .changes
        .iter()
        .map(|c| c.new.clone().unwrap())
        .collect();
    assert_eq!(new, vec![expected_ty_row(3, &toasted), null_row]);
    assert!(matches!(new[0][2], Value::Int(_)) && matches!(new[0][3], Value::Decimal(_)));

    // An update that leaves the TOASTed column alone: it is missing from the new row in the
    // stream and must come from the old row.
    db.client
        .batch_execute("UPDATE ty SET flag = false WHERE id = 3")
        .await
        .unwrap();
    let batch = next(&mut source).await;
    let change = &batch.changes[0];
    let mut updated = expected_ty_row(3, &toasted);
    assert_eq!(change.old.as_ref(), Some(&updated));
    updated[1] = Value::Boolean(false);
    assert_eq!(change.new.as_ref(), Some(&updated));
    drop(source);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_value_is_an_error_naming_the_column() {
    let db = TestDb::new(
        "undecodable",
        &format!("{TY_SQL} INSERT INTO ty (id, ts) VALUES (1, 'infinity');"),
    )
    .await;
    let mut source = db
        .open(vec![db.table("ty", TY_FIELDS)], None)
        .await
        .unwrap();
    let stop = AtomicBool::new(false);
    let err = source
        .next_batch(&stop)
        .await
        .expect_err("snapshot must fail");
    assert_decode_error(&err);

    // The same in the stream (a fresh slot, the bad row deleted before the snapshot).
    drop(source);
    db.client.batch_execute("DELETE FROM ty").await.unwrap();
    let mut source = db
        .open(vec![db.table("ty", TY_FIELDS)], None)
        .await
        .unwrap();
    assert!(next(&mut source).await.changes.is_empty());
    db.client
        .batch_execute("INSERT INTO ty (id, ts) VALUES (2, 'infinity')")
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), source.next_batch(&stop))
        .await
        .unwrap()
        .expect_err("stream must fail");
    assert_decode_error(&err);
    drop(source);
    db.drop().await;
}

fn assert_decode_error(err: &PgSourceError) {
    match err {
        PgSourceError::Decode {
            table,
            column,
            value,
            ..
        } => {
            assert_eq!(
                (table.as_str(), column.as_str(), value.as_str()),
                ("public.ty", "ts", "infinity")
            );
        }
        other => panic!("expected a Decode error, got {other:?}"),
    }
    assert!(err.to_string().contains("`ts`"), "{err}");
}
