//! A shop of four related Postgres tables for the join corpus: customers, products, orders
//! and order lines, with seeded random rows and changes.
//!
//! References are not enforced: an order may name a customer that does not exist (or none),
//! and deletes leave dangling references, so outer joins see unmatched rows on both sides.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write;

/// The tables, in the order their sources are declared.
pub const SHOP_TABLES: [&str; 4] = ["customers", "products", "orders", "order_lines"];

/// Their DDL. REPLICA IDENTITY FULL so that updates carry the old row.
pub const SHOP_SCHEMA: &str = "
    CREATE TABLE customers (id int PRIMARY KEY, name text, country text, tier bigint, signup date);
    CREATE TABLE products (id int PRIMARY KEY, name text, category text, price numeric(10, 2));
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int, status text, placed timestamp,
        discount numeric(4, 2));
    CREATE TABLE order_lines (order_id int, line int, product_id int, qty bigint,
        PRIMARY KEY (order_id, line));
    ALTER TABLE customers REPLICA IDENTITY FULL;
    ALTER TABLE products REPLICA IDENTITY FULL;
    ALTER TABLE orders REPLICA IDENTITY FULL;
    ALTER TABLE order_lines REPLICA IDENTITY FULL;";

const NAMES: [&str; 8] = ["Ann", "bob", "Cid", "Dee", "Éva", "Fay", "gus", "Hal"];
const COUNTRIES: [&str; 5] = ["UK", "FR", "DE", "uk", "US"];
const PRODUCTS: [&str; 6] = ["apple", "Bread", "cheese", "dates", "Eggs", "fig jam"];
const CATEGORIES: [&str; 3] = ["fruit", "bakery", "dairy"];
const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];

/// Seeded random rows and changes of the shop's tables.
pub struct Shop {
    rng: StdRng,
    customers: Vec<i32>,
    products: Vec<i32>,
    orders: Vec<i32>,
    lines: Vec<(i32, i32)>,
    next_id: i32,
}

impl Shop {
    pub fn new(seed: u64) -> Shop {
        Shop {
            rng: StdRng::seed_from_u64(seed),
            customers: Vec::new(),
            products: Vec::new(),
            orders: Vec::new(),
            lines: Vec::new(),
            next_id: 1,
        }
    }

    fn maybe(&mut self, value: String) -> String {
        if self.rng.random_bool(0.1) {
            "NULL".into()
        } else {
            value
        }
    }

    fn pick(&mut self, from: &[&str]) -> String {
        format!("'{}'", from[self.rng.random_range(0..from.len())])
    }

    /// A reference to a live row of `ids` (mostly), a missing one, or NULL.
    fn reference(&mut self, ids: &[i32]) -> String {
        let roll = self.rng.random_range(0..20);
        if roll == 0 {
            "NULL".into()
        } else if roll == 1 || ids.is_empty() {
            (9000 + self.rng.random_range(0..5)).to_string()
        } else {
            ids[self.rng.random_range(0..ids.len())].to_string()
        }
    }

    fn id(&mut self) -> i32 {
        self.next_id += 1;
        self.next_id
    }

    fn customer_values(&mut self) -> [String; 4] {
        let name = self.pick(&NAMES);
        let country = self.pick(&COUNTRIES);
        let tier = self.rng.random_range(0..4).to_string();
        let signup = format!(
            "'2023-{:02}-{:02}'",
            self.rng.random_range(1..13),
            self.rng.random_range(1..29)
        );
        [
            self.maybe(name),
            self.maybe(country),
            self.maybe(tier),
            self.maybe(signup),
        ]
    }

    fn product_values(&mut self) -> [String; 3] {
        let name = self.pick(&PRODUCTS);
        let category = self.pick(&CATEGORIES);
        let price = format!(
            "{}.{:02}",
            self.rng.random_range(0..30),
            self.rng.random_range(0..100)
        );
        [self.maybe(name), self.maybe(category), self.maybe(price)]
    }

    fn order_values(&mut self) -> [String; 4] {
        let customers = self.customers.clone();
        let customer = self.reference(&customers);
        let status = self.pick(&STATUSES);
        let placed = format!(
            "'2024-{:02}-{:02} {:02}:{:02}:00'",
            self.rng.random_range(1..13),
            self.rng.random_range(1..29),
            self.rng.random_range(0..24),
            self.rng.random_range(0..60)
        );
        let discount = format!("0.{:02}", self.rng.random_range(0..30));
        [
            customer,
            self.maybe(status),
            self.maybe(placed),
            self.maybe(discount),
        ]
    }

    fn line_values(&mut self) -> [String; 2] {
        let products = self.products.clone();
        let product = self.reference(&products);
        let qty = self.rng.random_range(-1..9).to_string();
        [product, self.maybe(qty)]
    }

    fn insert(&mut self, table: usize) -> String {
        match table {
            0 => {
                let id = self.id();
                self.customers.push(id);
                format!(
                    "INSERT INTO customers VALUES ({id}, {});",
                    self.customer_values().join(", ")
                )
            }
            1 => {
                let id = self.id();
                self.products.push(id);
                format!(
                    "INSERT INTO products VALUES ({id}, {});",
                    self.product_values().join(", ")
                )
            }
            2 => {
                let id = self.id();
                self.orders.push(id);
                format!(
                    "INSERT INTO orders VALUES ({id}, {});",
                    self.order_values().join(", ")
                )
            }
            _ => {
                // Mostly lines of live orders; sometimes of a missing one.
                let order = match self.orders.len() {
                    0 => 9100,
                    n if self.rng.random_bool(0.95) => self.orders[self.rng.random_range(0..n)],
                    _ => 9100 + self.rng.random_range(0..3),
                };
                let line = self.id();
                self.lines.push((order, line));
                format!(
                    "INSERT INTO order_lines VALUES ({order}, {line}, {});",
                    self.line_values().join(", ")
                )
            }
        }
    }

    /// The initial rows: `customers` customers, a few products, and orders with lines.
    pub fn initial(&mut self, customers: usize) -> String {
        let mut sql = String::new();
        for _ in 0..customers {
            sql.push_str(&self.insert(0));
        }
        for _ in 0..customers / 4 {
            sql.push_str(&self.insert(1));
        }
        for _ in 0..customers * 2 {
            sql.push_str(&self.insert(2));
        }
        for _ in 0..customers * 5 {
            sql.push_str(&self.insert(3));
        }
        sql
    }

    /// An update of one to three columns of a live row of `table`, sometimes of its key.
    fn update(&mut self, table: usize) -> Option<String> {
        let (name, columns, values, key): (&str, &[&str], Vec<String>, String) = match table {
            0 => {
                let id = *self
                    .customers
                    .get(self.rng.random_range(0..self.customers.len().max(1)))?;
                let values = self.customer_values().to_vec();
                (
                    "customers",
                    &["name", "country", "tier", "signup"],
                    values,
                    format!("id = {id}"),
                )
            }
            1 => {
                let id = *self
                    .products
                    .get(self.rng.random_range(0..self.products.len().max(1)))?;
                let values = self.product_values().to_vec();
                (
                    "products",
                    &["name", "category", "price"],
                    values,
                    format!("id = {id}"),
                )
            }
            2 => {
                let id = *self
                    .orders
                    .get(self.rng.random_range(0..self.orders.len().max(1)))?;
                let values = self.order_values().to_vec();
                (
                    "orders",
                    &["customer_id", "status", "placed", "discount"],
                    values,
                    format!("id = {id}"),
                )
            }
            _ => {
                let at = self.rng.random_range(0..self.lines.len().max(1));
                let (order, line) = *self.lines.get(at)?;
                let values = self.line_values().to_vec();
                (
                    "order_lines",
                    &["product_id", "qty"],
                    values,
                    format!("order_id = {order} AND line = {line}"),
                )
            }
        };
        let first = self.rng.random_range(0..columns.len());
        let mut sets: Vec<String> = (0..self.rng.random_range(1..=columns.len().min(3)))
            .map(|k| {
                let c = (first + k) % columns.len();
                format!("{} = {}", columns[c], values[c])
            })
            .collect();
        // A changed primary key: the row moves, and its matches with it.
        if self.rng.random_bool(0.08) {
            let new_id = self.id();
            match table {
                0 => replace(&mut self.customers, &key, new_id),
                1 => replace(&mut self.products, &key, new_id),
                2 => replace(&mut self.orders, &key, new_id),
                _ => {
                    let at = self
                        .lines
                        .iter()
                        .position(|(o, l)| key == format!("order_id = {o} AND line = {l}"))?;
                    self.lines[at].1 = new_id;
                    sets.push(format!("line = {new_id}"));
                    return Some(format!(
                        "UPDATE {name} SET {} WHERE {key};",
                        sets.join(", ")
                    ));
                }
            }
            sets.push(format!("id = {new_id}"));
        }
        Some(format!(
            "UPDATE {name} SET {} WHERE {key};",
            sets.join(", ")
        ))
    }

    fn delete(&mut self, table: usize) -> Option<String> {
        let (name, key) = match table {
            0 => (
                "customers",
                take(&mut self.rng, &mut self.customers)?.to_string(),
            ),
            1 => (
                "products",
                take(&mut self.rng, &mut self.products)?.to_string(),
            ),
            2 => ("orders", take(&mut self.rng, &mut self.orders)?.to_string()),
            _ => {
                let (order, line) = take(&mut self.rng, &mut self.lines)?;
                return Some(format!(
                    "DELETE FROM order_lines WHERE order_id = {order} AND line = {line};"
                ));
            }
        };
        Some(format!("DELETE FROM {name} WHERE id = {key};"))
    }

    /// One transaction of 1 to 5 inserts, updates and deletes over random tables.
    pub fn transaction(&mut self) -> String {
        let mut sql = String::from("BEGIN;");
        for _ in 0..self.rng.random_range(1..=5) {
            let table = self.rng.random_range(0..4);
            let roll = self.rng.random_range(0..10);
            let change = if roll < 4 {
                Some(self.insert(table))
            } else if roll < 8 {
                self.update(table)
            } else {
                self.delete(table)
            };
            let _ = write!(sql, "{}", change.unwrap_or_else(|| self.insert(table)));
        }
        sql.push_str("COMMIT;");
        sql
    }
}

/// Renames the id in `key` (`id = N`) to `new_id` in `ids`.
fn replace(ids: &mut [i32], key: &str, new_id: i32) {
    let old: Option<i32> = key.strip_prefix("id = ").and_then(|n| n.parse().ok());
    if let Some(slot) = ids.iter_mut().find(|id| Some(**id) == old) {
        *slot = new_id;
    }
}

/// Removes and returns a random element.
fn take<T: Copy>(rng: &mut StdRng, items: &mut Vec<T>) -> Option<T> {
    if items.is_empty() {
        return None;
    }
    let at = rng.random_range(0..items.len());
    Some(items.swap_remove(at))
}
