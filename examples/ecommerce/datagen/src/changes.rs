//! The change mix written after the initial load: a deterministic stream of
//! inserts (~70%), updates (~20%) and deletes (~10%) over the rows that exist.
//!
//! Pure: no I/O, no clock. The writer ([`crate::stream`]) applies each change
//! and reports back the id Postgres gave an inserted row
//! ([`ChangeMix::inserted`]), so updates and deletes only ever name live rows.
//! The same seed and the same starting ids give the same changes, however fast
//! they are written.
//!
//! Half the updates change a value (quantity or unit price), which moves the
//! sums but keeps the row in its groups; the other half move the row to another
//! country, customer or stock code, so one group shrinks and another grows.

use crate::catalog::{Catalog, Product, Sampler, COUNTRIES};
use crate::generator::Generator;
use crate::tables::SMALL_QUANTITIES;
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, Weekday};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Shares of the mix, in percent; deletes get the rest.
pub const INSERT_PERCENT: u32 = 70;
pub const UPDATE_PERCENT: u32 = 20;
/// Changes per transaction are drawn from `1..=MAX_TRANSACTION`.
pub const MAX_TRANSACTION: usize = 5;
/// Inserted sales per trading day after the loaded range.
const ROWS_PER_DAY: u64 = 2_000;
/// Keeps the change stream's random numbers apart from the load's for one `--seed`.
const SALT: u64 = 0xC4A9_6E5D_17F0_2B83;

/// A new sales line, owned (the generator's rows borrow it).
#[derive(Clone, Debug, PartialEq)]
pub struct Sale {
    /// `C`-prefixed for cancellations.
    pub invoice: String,
    pub stock_code: String,
    pub description: String,
    pub quantity: i32,
    pub invoice_date: NaiveDateTime,
    pub price_cents: i64,
    pub customer: Option<i32>,
    pub country: &'static str,
}

/// One change to `sales_data`.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Insert(Sale),
    Update { id: i64, update: Update },
    Delete { id: i64 },
}

/// Where a move sends a row: `to`, or `otherwise` when the row is already at
/// `to`. The two always differ, so a move always changes group even though the
/// mix does not know the row's current values.
#[derive(Clone, Debug, PartialEq)]
pub struct Move<T> {
    pub to: T,
    pub otherwise: T,
}

/// A customer and the country their rows move with.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerTarget {
    pub id: i32,
    pub country: &'static str,
}

/// A product with the prices a moved row takes (bulk for 100 or more).
#[derive(Clone, Debug, PartialEq)]
pub struct ProductTarget {
    pub stock_code: String,
    pub description: String,
    pub price_cents: i64,
    pub bulk_price_cents: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// New absolute quantity; the sign is kept, so cancellations stay negative.
    Quantity(Move<i32>),
    /// Unit price × `percent` / 100, a price correction; `percent` is never 100.
    Price {
        percent: i32,
    },
    Country(Move<&'static str>),
    Customer(Move<CustomerTarget>),
    Product(Move<ProductTarget>),
}

/// Endless sales lines after the loaded range, [`ROWS_PER_DAY`] a trading day
/// (Saturdays skipped), drawn by the CSV generator so they have the same shape.
pub struct SaleStream<'c> {
    catalog: &'c Catalog,
    seed: u64,
    day: NaiveDate,
    day_index: u64,
    gen: Generator<'c>,
}

impl<'c> SaleStream<'c> {
    /// Sales from `first_day` on (or the next trading day), invoices numbered
    /// from `first_invoice` so they continue the loaded ones.
    pub fn new(catalog: &'c Catalog, seed: u64, first_day: NaiveDate, first_invoice: u32) -> Self {
        let day = trading_day(first_day);
        SaleStream {
            catalog,
            seed,
            day,
            day_index: 0,
            gen: day_generator(catalog, seed, 0, day).with_first_invoice(first_invoice),
        }
    }

    pub fn next_sale(&mut self) -> Sale {
        loop {
            if let Some(row) = self.gen.next_row() {
                let invoice_date = std::str::from_utf8(row.timestamp)
                    .ok()
                    .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok())
                    .expect("the generator formats valid timestamps");
                let invoice = if row.cancelled {
                    format!("C{}", row.invoice)
                } else {
                    row.invoice.to_string()
                };
                return Sale {
                    invoice,
                    stock_code: row.product.stock_code.clone(),
                    description: row.product.description.clone(),
                    quantity: row.quantity,
                    invoice_date,
                    price_cents: row.price_cents,
                    // Customer ids are 12346..=18287, so they fit an `integer`.
                    customer: row.customer.map(|c| c as i32),
                    country: row.country,
                };
            }
            let next_invoice = self.gen.next_invoice();
            self.day_index += 1;
            self.day = trading_day(self.day.checked_add_days(Days::new(1)).unwrap_or(self.day));
            self.gen = day_generator(self.catalog, self.seed, self.day_index, self.day)
                .with_first_invoice(next_invoice);
        }
    }
}

fn day_generator(catalog: &Catalog, seed: u64, day_index: u64, day: NaiveDate) -> Generator<'_> {
    let day_seed = seed
        ^ SALT
        ^ day_index
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Generator::new(catalog, day_seed, ROWS_PER_DAY, day, 1)
}

/// `day`, or the Sunday after it if it is a Saturday (the shop's closed day).
fn trading_day(day: NaiveDate) -> NaiveDate {
    if day.weekday() == Weekday::Sat {
        day.checked_add_days(Days::new(1)).unwrap_or(day)
    } else {
        day
    }
}

/// Draws changes over the live rows; see the module doc.
pub struct ChangeMix<'c> {
    catalog: &'c Catalog,
    rng: StdRng,
    /// Ids of the rows that exist; order only matters for determinism.
    live: Vec<i64>,
    sales: SaleStream<'c>,
    quantities: Sampler,
}

impl<'c> ChangeMix<'c> {
    /// `live` holds the table's ids (sorted, so the same table gives the same
    /// changes).
    pub fn new(catalog: &'c Catalog, seed: u64, live: Vec<i64>, sales: SaleStream<'c>) -> Self {
        ChangeMix {
            catalog,
            rng: StdRng::seed_from_u64(seed ^ SALT),
            live,
            sales,
            quantities: Sampler::new(SMALL_QUANTITIES.iter().map(|&(_, w)| w as f64)),
        }
    }

    /// How many changes the next transaction holds, `1..=MAX_TRANSACTION`.
    pub fn transaction_size(&mut self) -> usize {
        self.rng.random_range(1..=MAX_TRANSACTION)
    }

    /// The next change. A delete leaves the live set at once, so no later
    /// change names its row; an insert joins it when [`Self::inserted`] is
    /// called with its id. With no live rows every change is an insert.
    pub fn next_change(&mut self) -> Change {
        let roll = self.rng.random_range(0..100);
        if roll < INSERT_PERCENT || self.live.is_empty() {
            return Change::Insert(self.sales.next_sale());
        }
        let slot = self.rng.random_range(0..self.live.len());
        if roll < INSERT_PERCENT + UPDATE_PERCENT {
            let id = self.live[slot];
            Change::Update {
                id,
                update: self.update(),
            }
        } else {
            Change::Delete {
                id: self.live.swap_remove(slot),
            }
        }
    }

    /// Records the id Postgres gave the last inserted row.
    pub fn inserted(&mut self, id: i64) {
        self.live.push(id);
    }

    /// Drops an id whose row turned out to be gone (deleted by someone else).
    pub fn forget(&mut self, id: i64) {
        if let Some(slot) = self.live.iter().position(|&l| l == id) {
            self.live.swap_remove(slot);
        }
    }

    /// Rows the mix believes exist.
    pub fn live_rows(&self) -> usize {
        self.live.len()
    }

    fn update(&mut self) -> Update {
        let catalog = self.catalog;
        match self.rng.random_range(0..10) {
            0..=2 => {
                let quantities = &self.quantities;
                let (to, otherwise) = distinct(&mut self.rng, |rng| {
                    SMALL_QUANTITIES[quantities.sample(rng)].0
                });
                Update::Quantity(Move { to, otherwise })
            }
            3..=4 => {
                let change = self.rng.random_range(1..=20);
                let percent = if self.rng.random_bool(0.5) {
                    100 + change
                } else {
                    100 - change
                };
                Update::Price { percent }
            }
            5..=6 => {
                let (to, otherwise) = distinct(&mut self.rng, |rng| catalog.pick_country(rng));
                Update::Country(Move {
                    to: COUNTRIES[to].0,
                    otherwise: COUNTRIES[otherwise].0,
                })
            }
            7..=8 => {
                let (to, otherwise) = distinct(&mut self.rng, |rng| {
                    let c = catalog.pick_customer(rng);
                    (c.id, c.home_country)
                });
                Update::Customer(Move {
                    to: customer_target(to),
                    otherwise: customer_target(otherwise),
                })
            }
            _ => {
                let (to, otherwise) = distinct(&mut self.rng, |rng| {
                    catalog.pick_product(rng).stock_code.as_str()
                });
                Update::Product(Move {
                    to: product_target(catalog, to),
                    otherwise: product_target(catalog, otherwise),
                })
            }
        }
    }
}

/// Two different draws of `draw`. Every pool has more than one value and none
/// has all the weight, so this ends after a few tries.
fn distinct<T: PartialEq>(rng: &mut StdRng, mut draw: impl FnMut(&mut StdRng) -> T) -> (T, T) {
    let first = draw(rng);
    loop {
        let second = draw(rng);
        if second != first {
            return (first, second);
        }
    }
}

/// A customer's rows move with them to their home country.
fn customer_target((id, home_country): (u32, usize)) -> CustomerTarget {
    CustomerTarget {
        // Customer ids are 12346..=18287, so they fit an `integer`.
        id: id as i32,
        country: COUNTRIES[home_country].0,
    }
}

fn product_target(catalog: &Catalog, stock_code: &str) -> ProductTarget {
    // Products are sorted by stock code.
    let product: &Product = catalog
        .products
        .binary_search_by(|p| p.stock_code.as_str().cmp(stock_code))
        .map(|i| &catalog.products[i])
        .expect("picked from the catalog");
    ProductTarget {
        stock_code: product.stock_code.clone(),
        description: product.description.clone(),
        price_cents: product.price_cents,
        bulk_price_cents: product.bulk_price_cents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{FIRST_CUSTOMER, LAST_CUSTOMER};
    use crate::generator::FIRST_INVOICE;
    use std::collections::BTreeSet;

    fn first_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2011, 5, 30).unwrap()
    }

    /// Draws `n` changes in transactions as the writer does, standing in for
    /// Postgres: inserts get the next id, like a bigserial.
    fn simulate(catalog: &Catalog, seed: u64, rows: i64, n: usize) -> (Vec<usize>, Vec<Change>) {
        let sales = SaleStream::new(catalog, seed, first_day(), FIRST_INVOICE + 1_000);
        let mut mix = ChangeMix::new(catalog, seed, (1..=rows).collect(), sales);
        let mut next_id = rows + 1;
        let (mut sizes, mut changes) = (Vec::new(), Vec::new());
        while changes.len() < n {
            let size = mix.transaction_size();
            sizes.push(size);
            for _ in 0..size {
                let change = mix.next_change();
                if let Change::Insert(_) = change {
                    mix.inserted(next_id);
                    next_id += 1;
                }
                changes.push(change);
            }
        }
        (sizes, changes)
    }

    #[test]
    fn same_seed_same_changes() {
        let catalog = Catalog::new();
        let a = simulate(&catalog, 7, 500, 3_000);
        assert_eq!(a, simulate(&catalog, 7, 500, 3_000));
        assert_ne!(a.1, simulate(&catalog, 8, 500, 3_000).1);
        // The starting ids are part of the input.
        assert_ne!(a.1, simulate(&catalog, 7, 501, 3_000).1);
    }

    #[test]
    fn changes_name_only_live_rows_in_the_intended_mix() {
        let catalog = Catalog::new();
        let rows = 300;
        let (sizes, changes) = simulate(&catalog, 42, rows, 20_000);
        assert!(sizes.iter().all(|s| (1..=MAX_TRANSACTION).contains(s)));
        assert_eq!(
            sizes.iter().copied().collect::<BTreeSet<_>>().len(),
            MAX_TRANSACTION
        );

        let mut live: BTreeSet<i64> = (1..=rows).collect();
        let mut next_id = rows + 1;
        let (mut inserts, mut updates, mut deletes) = (0usize, 0usize, 0usize);
        let mut kinds = BTreeSet::new();
        for change in &changes {
            match change {
                Change::Insert(_) => {
                    live.insert(next_id);
                    next_id += 1;
                    inserts += 1;
                }
                Change::Update { id, update } => {
                    assert!(live.contains(id), "update of missing row {id}");
                    updates += 1;
                    kinds.insert(check_update(update));
                }
                Change::Delete { id } => {
                    assert!(live.remove(id), "delete of missing row {id}");
                    deletes += 1;
                }
            }
        }
        assert_eq!(kinds.len(), 5, "every kind of update appears");
        let share = |k: usize| k as f64 / changes.len() as f64;
        assert!((0.67..0.73).contains(&share(inserts)), "{}", share(inserts));
        assert!((0.17..0.23).contains(&share(updates)), "{}", share(updates));
        assert!((0.08..0.12).contains(&share(deletes)), "{}", share(deletes));
        assert_eq!(live.len() as i64, rows + inserts as i64 - deletes as i64);
    }

    /// Checks one update and names its kind.
    fn check_update(update: &Update) -> &'static str {
        match update {
            Update::Quantity(m) => {
                assert!(m.to > 0 && m.otherwise > 0 && m.to != m.otherwise);
                "quantity"
            }
            Update::Price { percent } => {
                assert!((80..=120).contains(percent) && *percent != 100);
                "price"
            }
            Update::Country(m) => {
                assert_ne!(m.to, m.otherwise);
                assert!(COUNTRIES.iter().any(|(c, _)| *c == m.to));
                "country"
            }
            Update::Customer(m) => {
                assert_ne!(m.to.id, m.otherwise.id);
                let ids = FIRST_CUSTOMER as i32..=LAST_CUSTOMER as i32;
                assert!(ids.contains(&m.to.id) && ids.contains(&m.otherwise.id));
                "customer"
            }
            Update::Product(m) => {
                assert_ne!(m.to.stock_code, m.otherwise.stock_code);
                assert!(m.to.bulk_price_cents <= m.to.price_cents);
                "product"
            }
        }
    }

    #[test]
    fn an_empty_table_gets_inserts_and_deletes_leave_the_live_set() {
        let catalog = Catalog::new();
        let sales = SaleStream::new(&catalog, 1, first_day(), FIRST_INVOICE);
        let mut mix = ChangeMix::new(&catalog, 1, Vec::new(), sales);
        for _ in 0..20 {
            assert!(matches!(mix.next_change(), Change::Insert(_)));
        }
        mix.inserted(10);
        mix.inserted(11);
        mix.forget(10);
        assert_eq!(mix.live_rows(), 1);
        let mut seen_delete = false;
        for _ in 0..200 {
            match mix.next_change() {
                Change::Update { id, .. } => assert_eq!(id, 11),
                Change::Delete { id } => {
                    assert_eq!(id, 11);
                    seen_delete = true;
                    break;
                }
                Change::Insert(_) => {}
            }
        }
        assert!(seen_delete);
        assert_eq!(mix.live_rows(), 0);
    }

    #[test]
    fn new_sales_continue_after_the_loaded_range() {
        let catalog = Catalog::new();
        let mut stream = SaleStream::new(&catalog, 3, first_day(), 600_000);
        let sales: Vec<Sale> = (0..2 * ROWS_PER_DAY + 10)
            .map(|_| stream.next_sale())
            .collect();
        let mut days = BTreeSet::new();
        let mut last = (0u32, first_day().and_hms_opt(0, 0, 0).unwrap());
        for sale in &sales {
            let number: u32 = sale.invoice.trim_start_matches('C').parse().unwrap();
            assert!(number >= last.0 && number >= 600_000, "invoice {number}");
            assert!(sale.invoice_date >= last.1, "time goes backwards");
            last = (number, sale.invoice_date);
            assert_ne!(sale.invoice_date.weekday(), Weekday::Sat);
            assert_eq!(sale.invoice.starts_with('C'), sale.quantity < 0);
            assert!(COUNTRIES.iter().any(|(c, _)| *c == sale.country));
            days.insert(sale.invoice_date.date());
        }
        assert_eq!(days.len(), 3, "{days:?}");
        assert_eq!(days.first(), Some(&first_day()));
    }
}
