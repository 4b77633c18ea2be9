//! `ecommerce-datagen postgres` against the machine's Postgres (127.0.0.1:5432,
//! user `postgres`, trust auth). Each test uses a database of its own, named
//! after the test and the process id, dropped at the end.

use postgres::{Client, NoTls};
use std::process::{Command, Output};

const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";

/// A database name for this test run; dropped (WITH FORCE) when it goes out of scope.
struct TestDb(String);

impl TestDb {
    fn new(test: &str) -> TestDb {
        let db = TestDb(format!("datagen_{test}_{}", std::process::id()));
        db.drop_database();
        db
    }

    fn url(&self) -> String {
        format!("{SERVER} dbname={}", self.0)
    }

    fn connect(&self) -> Client {
        Client::connect(&self.url(), NoTls).expect("connecting to the test database")
    }

    fn drop_database(&self) {
        let mut admin = Client::connect(&format!("{SERVER} dbname=postgres"), NoTls)
            .expect("Postgres on 127.0.0.1:5432 with trust auth for user postgres");
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.0
            ))
            .expect("dropping the test database");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_database();
    }
}

fn datagen(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_ecommerce-datagen"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running ecommerce-datagen");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The number before `label` in the summary line, e.g. `212 inserts`.
fn count_in(summary: &str, label: &str) -> i64 {
    let before = summary
        .split(&format!(" {label}"))
        .next()
        .expect("label in summary");
    before
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before `{label}` in {summary:?}"))
}

#[test]
fn loads_rows_then_writes_changes() {
    let db = TestDb::new("load");
    let url = db.url();
    let output = datagen(&[
        "postgres",
        "--url",
        &url,
        "--create-database",
        "--rows",
        "2000",
        "--rate",
        "100000",
        "--changes",
        "300",
        "--seed",
        "11",
    ]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("created database `{}`", db.0)));
    assert!(stderr.contains("loaded 2000 rows into public.sales_data"));
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("done: "))
        .expect("a summary line");
    let (inserts, updates, deletes) = (
        count_in(summary, "inserts"),
        count_in(summary, "updates"),
        count_in(summary, "deletes"),
    );
    assert_eq!(count_in(summary, "vanished"), 0);
    assert_eq!(inserts + updates + deletes, 300, "{summary}");
    assert!(inserts > 150 && updates > 20 && deletes > 5, "{summary}");

    let mut client = db.connect();
    let rows: i64 = client
        .query_one("SELECT count(*) FROM public.sales_data", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 2000 + inserts - deletes);
    let identity: i8 = client
        .query_one(
            "SELECT relreplident FROM pg_class WHERE oid = 'public.sales_data'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(identity as u8, b'f', "REPLICA IDENTITY FULL");
    // Cancellations keep negative quantities through quantity updates.
    let bad: i64 = client
        .query_one(
            "SELECT count(*) FROM public.sales_data \
             WHERE (invoiceno LIKE 'C%') <> (quantity < 0)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(bad, 0);
    // Moves to another stock code bring its description along.
    let mixed: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT stockcode FROM public.sales_data \
             GROUP BY stockcode HAVING count(DISTINCT description) > 1) s",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(mixed, 0);

    // A second run on the existing table: no load, changes only, same table.
    let output = datagen(&[
        "postgres",
        "--url",
        &url,
        "--rows",
        "0",
        "--rate",
        "100000",
        "--changes",
        "50",
    ]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stderr.lines().find(|l| l.starts_with("done: ")).unwrap();
    let after: i64 = client
        .query_one("SELECT count(*) FROM public.sales_data", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        after,
        rows + count_in(summary, "inserts") - count_in(summary, "deletes")
    );
}

#[test]
fn a_missing_database_asks_for_create_database() {
    let db = TestDb::new("missing");
    let output = datagen(&["postgres", "--url", &db.url(), "--rows", "10"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("database `{}` does not exist", db.0))
            && stderr.contains("--create-database"),
        "{stderr}"
    );
}
