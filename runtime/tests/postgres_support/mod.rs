//! Helpers of the Postgres source tests: per-test databases and slots, a replica that applies
//! batches, waiting for batches.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use dozer_runtime::sources::postgres::{
    PgBatch, PgConnectionSpec, PgSource, PgSourceError, PgTableSpec,
};
use dozer_runtime::types::{FieldDef, Value};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

pub struct TestDb {
    pub conn: PgConnectionSpec,
    pub slot: String,
    pub client: Client,
}

pub async fn connect(db: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port=5432 user=postgres dbname={db}"),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

impl TestDb {
    pub async fn new(name: &str, setup_sql: &str) -> TestDb {
        let db = format!("dozer_pgsrc_{name}_{}", std::process::id());
        let admin = connect("postgres").await;
        drop_slot(&admin, &db).await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
        let client = connect(&db).await;
        client.batch_execute(setup_sql).await.unwrap();
        let conn = PgConnectionSpec {
            name: "test".into(),
            host: "127.0.0.1".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            database: db.clone(),
            ssl_mode: "prefer".into(),
        };
        TestDb {
            conn,
            slot: db,
            client,
        }
    }

    pub fn table(&self, table: &'static str, fields: &'static [FieldDef]) -> PgTableSpec {
        PgTableSpec {
            source: table,
            schema: "public",
            table,
            fields,
        }
    }

    pub async fn open(
        &self,
        tables: Vec<PgTableSpec>,
        resume: Option<u64>,
    ) -> Result<PgSource, PgSourceError> {
        PgSource::open(&self.conn, &self.slot, tables, resume).await
    }

    pub async fn drop(self) {
        drop(self.client);
        let admin = connect("postgres").await;
        drop_slot(&admin, &self.slot).await;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.conn.database
            ))
            .await
            .unwrap();
    }
}

pub async fn drop_slot(admin: &Client, slot: &str) {
    for _ in 0..500 {
        let rows = admin
            .query(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .unwrap();
        let Some(row) = rows.first() else { return };
        match row.get::<_, Option<i32>>(0) {
            Some(pid) => {
                admin
                    .execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .unwrap();
            }
            None => {
                let _ = admin
                    .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("could not drop slot {slot}");
}

/// The next batch, failing the test after 30 s.
pub async fn next(source: &mut PgSource) -> PgBatch {
    let stop = AtomicBool::new(false);
    tokio::time::timeout(Duration::from_secs(30), source.next_batch(&stop))
        .await
        .expect("no batch within 30 s")
        .unwrap()
        .expect("source stopped")
}

/// Asserts no batch arrives within `wait`.
pub async fn expect_idle(source: &mut PgSource, wait: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let got = source.next_batch(&stop).await.unwrap();
    assert!(
        got.is_none(),
        "unexpected batch {:?}",
        got.map(|b| b.changes)
    );
}

/// Rows keyed by `id` (field 0), as a replica applying the batches sees them.
#[derive(Default)]
pub struct Replica {
    pub rows: HashMap<i64, Vec<Value>>,
    pending: Vec<PgBatch>,
}

pub fn id_of(row: &[Value]) -> i64 {
    match row[0] {
        Value::Int(id) => id,
        ref other => panic!("id {other:?}"),
    }
}

impl Replica {
    /// Applies a batch once its transaction is complete; returns the transaction's end.
    pub fn apply(&mut self, batch: PgBatch) -> Option<u64> {
        assert!(batch.changes.len() <= 65_536);
        let end = batch.end;
        self.pending.push(batch);
        end?;
        for batch in std::mem::take(&mut self.pending) {
            for change in batch.changes {
                if let Some(old) = &change.old {
                    let have = self.rows.remove(&id_of(old));
                    assert_eq!(have.as_ref(), Some(old), "old image differs");
                }
                if let Some(new) = change.new {
                    assert!(
                        self.rows.insert(id_of(&new), new).is_none(),
                        "insert of existing row"
                    );
                }
            }
        }
        end
    }
}

pub async fn select_rows(
    client: &Client,
    sql: &str,
    fields: &[FieldDef],
) -> HashMap<i64, Vec<Value>> {
    let mut rows = HashMap::new();
    for m in client.simple_query(sql).await.unwrap() {
        if let SimpleQueryMessage::Row(r) = m {
            let row: Vec<Value> = fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    r.get(i)
                        .map_or(Value::Null, |t| Value::parse(t, f.ty).unwrap())
                })
                .collect();
            rows.insert(id_of(&row), row);
        }
    }
    rows
}

pub const T_SQL: &str = "CREATE TABLE t (id int8 PRIMARY KEY, v text, n int8);
     ALTER TABLE t REPLICA IDENTITY FULL;";

/// Tiny deterministic PRNG.
pub struct Rng(pub u64);
impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Commits transaction `k` of the resume test: it inserts id 1000 + k.
pub async fn commit_txn(client: &Client, k: i64) {
    client
        .batch_execute(&format!(
            "INSERT INTO t VALUES ({}, 'txn {k}', {k})",
            1000 + k
        ))
        .await
        .unwrap();
}

pub fn inserted_ids(batch: &PgBatch) -> Vec<i64> {
    batch
        .changes
        .iter()
        .filter_map(|c| c.new.as_deref().map(id_of))
        .collect()
}
