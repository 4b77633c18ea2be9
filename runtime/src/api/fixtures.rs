//! Test fixtures shared by the API tests: a hand-written record and endpoint, and a real
//! store holding a few rows of it.

use super::EndpointDecl;
use crate::cache::{EndpointTable, Store};
use crate::types::{Decimal, Delta, FieldDef, FieldType, Record, Value};
use serde::{Deserialize, Serialize};

/// A hand-written record, as `dozerc` would generate it.
#[allow(non_snake_case)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub Country: Option<String>,
    pub Total: Decimal,
    pub n: i64,
}

impl Record for Row {
    const FIELDS: &'static [FieldDef] = &[
        FieldDef::new("Country", FieldType::String, true),
        FieldDef::new("Total", FieldType::Decimal, false),
        FieldDef::new("n", FieldType::Int, false),
    ];
    fn field(&self, index: usize) -> Value {
        match index {
            0 => self.Country.clone().map_or(Value::Null, Value::String),
            1 => Value::Decimal(self.Total),
            _ => Value::Int(self.n),
        }
    }
}

pub fn row(country: Option<&str>, total: i64, n: i64) -> Row {
    Row {
        Country: country.map(str::to_string),
        Total: Decimal::new(total, 0),
        n,
    }
}

pub const DECL: EndpointDecl = EndpointDecl {
    name: "sales",
    path: "/sales",
    table_name: "sales_by_country",
    fields: Row::FIELDS,
    primary_key: &["Country"],
    // Total and n alone, and Country then Total (composite).
    indexes: &[&[1], &[2], &[0, 1]],
};

pub type Key = (Option<String>,);

/// A store in `dir` holding one row per country, written like the pipeline does.
pub fn store_with_rows(dir: &std::path::Path, rows: &[Row]) -> Store {
    let store = Store::open(&dir.join("cache.redb")).unwrap();
    let table = EndpointTable::<Key, Row>::with_indexes(DECL.name, DECL.indexes);
    store.create_tables(&table.table_names()).unwrap();
    let txn = store.begin_write().unwrap();
    let changes: Vec<Delta<Key, Row>> = rows
        .iter()
        .map(|r| Delta::insert((r.Country.clone(),), r.clone()))
        .collect();
    table.apply(&txn, &changes).unwrap();
    txn.commit().unwrap();
    store
}

pub fn sample_rows() -> Vec<Row> {
    // Same-length names: the store's (postcard byte) key order is then also value order.
    vec![
        row(Some("UK"), 10, 1),
        row(Some("FR"), 20, 2),
        row(None, 30, 3),
        row(Some("ES"), 20, 4),
    ]
}
