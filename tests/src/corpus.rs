//! The differential SQL corpus (GUIDE §3): many statements compiled as the endpoints of one
//! generated crate over a Postgres source, each compared with Postgres running the same SELECT
//! after a seeded random sequence of inserts, updates and deletes.
//!
//! A failure names the statement, its SQL, the differing rows and the seed that reproduces the
//! data (`DOZER_CORPUS_SEED=<seed>`).

use crate::http::{all_rows, wait_for_position};
use crate::oracle::{canonical_endpoint_rows, canonical_oracle_rows, Oracle};
use crate::pipeline::{build, free_port, Running};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write;
use std::time::Duration;

/// The source table every corpus statement reads.
pub const ITEMS_TABLE: &str = "CREATE TABLE items (
    id int PRIMARY KEY, name text, category text, qty bigint, price numeric(10, 2),
    weight float8, created timestamp, day date, active boolean, note text, attrs jsonb);
    ALTER TABLE items REPLICA IDENTITY FULL;";

/// One corpus statement: `body` is a SELECT without INTO, as Postgres runs it; the pipeline
/// runs it with `INTO <name>` where the body says `{INTO}`, or else before the first FROM
/// outside parentheses and quotes (FROM also occurs inside EXTRACT, TRIM and SUBSTRING).
pub struct Query {
    pub name: String,
    pub body: String,
    /// What Postgres runs instead of `body`, for functions it spells differently (Dozer's
    /// MAX_VALUE); written after `|||` in the corpus.
    pub oracle: Option<String>,
}

impl Query {
    /// The statement as the pipeline reads it.
    pub fn pipeline_sql(&self) -> String {
        if self.body.contains("{INTO}") {
            return format!(
                "{};",
                self.body.replace("{INTO}", &format!("INTO {}", self.name))
            );
        }
        let at = top_level_from(&self.body)
            .unwrap_or_else(|| panic!("corpus query without FROM: {}", self.body));
        format!(
            "{} INTO {}{};",
            &self.body[..at],
            self.name,
            &self.body[at..]
        )
    }
}

/// Where ` FROM ` first occurs outside parentheses and quoted text.
fn top_level_from(sql: &str) -> Option<usize> {
    let (mut depth, mut quoted) = (0i32, false);
    for (at, c) in sql.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ' ' if !quoted && depth == 0 && sql[at..].starts_with(" FROM ") => return Some(at),
            _ => {}
        }
    }
    None
}

/// Numbers the queries `q001`, `q002`, ...
pub fn queries(bodies: &[&str]) -> Vec<Query> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let (body, oracle) = match text.split_once("|||") {
                Some((body, oracle)) => (body, Some(oracle.trim().to_string())),
                None => (*text, None),
            };
            Query {
                name: format!("q{:03}", i + 1),
                body: body.trim().to_string(),
                oracle,
            }
        })
        .collect()
}

/// The pipeline config: one Postgres source per table and one endpoint per query.
pub fn config(app: &str, database: &str, tables: &[&str], queries: &[Query]) -> String {
    let mut yaml = format!(
        "app_name: {app}\nconnections:\n  - name: pg\n    config: !Postgres {{ user: postgres, host: 127.0.0.1, port: 5432, database: {database} }}\nsources:\n"
    );
    for table in tables {
        let _ = writeln!(
            yaml,
            "  - {{ name: {table}, table_name: {table}, connection: pg }}"
        );
    }
    yaml.push_str("sql: |\n");
    for q in queries {
        let _ = writeln!(yaml, "  {}\n", q.pipeline_sql());
    }
    yaml.push_str("endpoints:\n");
    for q in queries {
        let _ = writeln!(
            yaml,
            "  - {{ name: {0}, path: /{0}, table_name: {0} }}",
            q.name
        );
    }
    yaml
}

const NAMES: [&str; 12] = [
    "Apple",
    "apple pie",
    "Banana_split",
    "cherry%",
    "Éclair",
    "  date  ",
    "fig",
    "GRAPE",
    "kiwi\\fruit",
    "lemon-lime",
    "Mango",
    "",
];
const CATEGORIES: [&str; 4] = ["fruit", "Dessert", "drink", "snack"];
const NOTES: [&str; 5] = ["fresh", " ripe ", "xxsalexx", "a_b%c", "Ready to eat"];

/// Seeded random rows and changes of `items`.
pub struct Items {
    rng: StdRng,
    next_id: i32,
    live: Vec<i32>,
}

impl Items {
    pub fn new(seed: u64) -> Items {
        Items {
            rng: StdRng::seed_from_u64(seed),
            next_id: 1,
            live: Vec::new(),
        }
    }

    fn maybe(&mut self, value: String) -> String {
        if self.rng.random_bool(0.1) {
            "NULL".into()
        } else {
            value
        }
    }

    fn quoted(text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }

    /// A value for each column after `id`, as SQL literals.
    fn values(&mut self) -> [String; 10] {
        let name = Self::quoted(NAMES[self.rng.random_range(0..NAMES.len())]);
        let category = Self::quoted(CATEGORIES[self.rng.random_range(0..CATEGORIES.len())]);
        let qty = self.rng.random_range(-5..60).to_string();
        let price = format!(
            "{}.{:02}",
            self.rng.random_range(0..100),
            self.rng.random_range(0..100)
        );
        let weight = (self.rng.random_range(0..400) as f64 / 8.0).to_string();
        let created = format!(
            "'2024-{:02}-{:02} {:02}:{:02}:{:02}'",
            self.rng.random_range(1..13),
            self.rng.random_range(1..29),
            self.rng.random_range(0..24),
            self.rng.random_range(0..60),
            self.rng.random_range(0..60)
        );
        let day = format!(
            "'2023-{:02}-{:02}'",
            self.rng.random_range(1..13),
            self.rng.random_range(1..29)
        );
        let active = ["true", "false"][self.rng.random_range(0..2)].to_string();
        let note = Self::quoted(NOTES[self.rng.random_range(0..NOTES.len())]);
        let attrs = self.attrs();
        [
            self.maybe(name),
            self.maybe(category),
            self.maybe(qty),
            self.maybe(price),
            self.maybe(weight),
            self.maybe(created),
            self.maybe(day),
            self.maybe(active),
            self.maybe(note),
            self.maybe(attrs),
        ]
    }

    /// A JSON document with some fields missing, nested objects and arrays, and JSON nulls.
    fn attrs(&mut self) -> String {
        let mut fields = Vec::new();
        if self.rng.random_bool(0.8) {
            let colors = ["red", "green", "blue", "Red"];
            fields.push(format!(
                "\"color\": \"{}\"",
                colors[self.rng.random_range(0..colors.len())]
            ));
        }
        if self.rng.random_bool(0.7) {
            fields.push(format!("\"size\": {}", self.rng.random_range(-2..12)));
        }
        if self.rng.random_bool(0.6) {
            let tags: Vec<String> = (0..self.rng.random_range(0..4))
                .map(|i| format!("\"t{}\"", i + self.rng.random_range(0..3)))
                .collect();
            fields.push(format!("\"tags\": [{}]", tags.join(", ")));
        }
        if self.rng.random_bool(0.5) {
            let h = if self.rng.random_bool(0.2) {
                "null".to_string()
            } else {
                self.rng.random_range(1..20).to_string()
            };
            fields.push(format!(
                "\"dims\": {{\"w\": {}.5, \"h\": {h}}}",
                self.rng.random_range(0..9)
            ));
        }
        Self::quoted(&format!("{{{}}}", fields.join(", ")))
    }

    fn insert(&mut self) -> String {
        let id = self.next_id;
        self.next_id += 1;
        self.live.push(id);
        format!(
            "INSERT INTO items VALUES ({id}, {});",
            self.values().join(", ")
        )
    }

    /// `rows` inserts in one statement list.
    pub fn initial(&mut self, rows: usize) -> String {
        (0..rows).map(|_| self.insert()).collect()
    }

    /// One transaction of 1 to 5 random inserts, updates (of a few columns, sometimes the
    /// primary key) and deletes.
    pub fn transaction(&mut self) -> String {
        const COLUMNS: [&str; 10] = [
            "name", "category", "qty", "price", "weight", "created", "day", "active", "note",
            "attrs",
        ];
        let mut sql = String::from("BEGIN;");
        for _ in 0..self.rng.random_range(1..=5) {
            let roll = self.rng.random_range(0..10);
            if self.live.is_empty() || roll < 4 {
                sql.push_str(&self.insert());
            } else if roll < 8 {
                let id = self.live[self.rng.random_range(0..self.live.len())];
                let values = self.values();
                // One to three distinct columns.
                let first = self.rng.random_range(0..COLUMNS.len());
                let mut sets: Vec<String> = (0..self.rng.random_range(1..4))
                    .map(|k| {
                        let c = (first + k * 4) % COLUMNS.len();
                        format!("{} = {}", COLUMNS[c], values[c])
                    })
                    .collect();
                if self.rng.random_bool(0.1) {
                    let new_id = self.next_id;
                    self.next_id += 1;
                    self.live.retain(|&l| l != id);
                    self.live.push(new_id);
                    sets.push(format!("id = {new_id}"));
                }
                let _ = write!(sql, "UPDATE items SET {} WHERE id = {id};", sets.join(", "));
            } else {
                let at = self.rng.random_range(0..self.live.len());
                let id = self.live.swap_remove(at);
                let _ = write!(sql, "DELETE FROM items WHERE id = {id};");
            }
        }
        sql.push_str("COMMIT;");
        sql
    }
}

/// Waits until the pipeline has applied everything committed, then compares every query.
/// Returns a report of every mismatch (empty when all agree).
pub fn compare_all(
    oracle: &mut Oracle,
    port: u16,
    queries: &[Query],
    stage: &str,
    seed: u64,
) -> anyhow::Result<String> {
    let lsn: String = oracle
        .client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])?
        .get(0);
    wait_for_position(port, &lsn, Duration::from_secs(60))?;
    let mut report = String::new();
    for q in queries {
        let served = canonical_endpoint_rows(&all_rows(port, &format!("/{}", q.name))?);
        let sql = q
            .oracle
            .clone()
            .unwrap_or_else(|| q.body.replace("{INTO}", ""));
        let expected = canonical_oracle_rows(oracle.rows(&sql)?);
        if served == expected {
            continue;
        }
        let missing: Vec<_> = expected
            .iter()
            .filter(|r| !served.contains(r))
            .take(3)
            .collect();
        let extra: Vec<_> = served
            .iter()
            .filter(|r| !expected.contains(r))
            .take(3)
            .collect();
        let _ = writeln!(
            report,
            "{} {stage} (DOZER_CORPUS_SEED={seed}): {}\n  served {} rows, Postgres {}\n  missing: {missing:?}\n  unexpected: {extra:?}",
            q.name,
            q.body,
            served.len(),
            expected.len()
        );
    }
    Ok(report)
}

/// A corpus run: queries over tables created by `setup` in a fresh database.
pub struct Corpus<'a> {
    pub app: &'a str,
    pub tables: &'a [&'a str],
    pub setup: &'a str,
    pub queries: &'a [Query],
    pub seed: u64,
}

/// Builds one crate serving every query of `corpus` and compares them all with Postgres after
/// the snapshot and after each of `rounds` rounds of `per_round` transactions from
/// `transaction`. Fails with every mismatch.
pub fn run(
    corpus: &Corpus,
    rounds: usize,
    per_round: usize,
    transaction: &mut dyn FnMut() -> String,
) -> anyhow::Result<()> {
    let Corpus {
        app,
        tables,
        setup,
        queries,
        seed,
    } = *corpus;
    let mut oracle = Oracle::new(app)?;
    oracle.client.batch_execute(setup)?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("dozer-config.yaml");
    std::fs::write(&config_path, config(app, oracle.name(), tables, queries))?;
    let built = build(&config_path, &dir.path().join("build"))?;
    let running = Running::start(&built.binary, &dir.path().join("home"), free_port())?;

    let mut report = compare_all(
        &mut oracle,
        running.port,
        queries,
        "after the snapshot",
        seed,
    )?;
    for round in 1..=rounds {
        for _ in 0..per_round {
            oracle.client.batch_execute(&transaction())?;
        }
        report.push_str(&compare_all(
            &mut oracle,
            running.port,
            queries,
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

/// The seed of a corpus run: `DOZER_CORPUS_SEED` when set, else `default`.
pub fn seed(default: u64) -> u64 {
    std::env::var("DOZER_CORPUS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
