//! Writes the change mix ([`crate::changes`]) to Postgres at a steady rate:
//! small transactions (1–5 changes), paced so that `n` changes are done after
//! `n / rate` seconds, with a status line on stderr every second.

use crate::changes::{Change, ChangeMix, Move, Update};
use crate::postgres::{sql_error, DbError};
use postgres::{Client, Statement, Transaction};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long to sleep at most, so Ctrl-C and the status line stay prompt.
const TICK: Duration = Duration::from_millis(100);
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// `--rate` and `--changes`.
pub struct Pace {
    /// Changes per second; more than 0.
    pub rate: f64,
    /// Stop after this many changes; `None` runs until `stop` is set.
    pub limit: Option<u64>,
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    /// Changes applied (each counted once, whatever it did).
    pub changes: u64,
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    /// Updates and deletes whose row was already gone (another writer).
    pub vanished: u64,
    pub transactions: u64,
}

/// How long to wait before the next transaction, after `done` changes and
/// `elapsed` time: `done / rate` seconds is when they are due.
pub fn wait_before_next(done: u64, rate: f64, elapsed: Duration) -> Duration {
    let due = Duration::try_from_secs_f64(done as f64 / rate).unwrap_or(Duration::MAX);
    due.saturating_sub(elapsed)
}

/// Applies changes from `mix` until `pace.limit` changes are done or `stop`
/// is set (checked between transactions, so none is left half done).
pub fn run(
    client: &mut Client,
    mix: &mut ChangeMix<'_>,
    pace: &Pace,
    stop: &AtomicBool,
) -> Result<Tally, DbError> {
    let statements = Statements::prepare(client)?;
    let mut tally = Tally::default();
    let began = Instant::now();
    let mut status = Status::new(began);
    loop {
        let now = Instant::now();
        status.maybe_print(now, &tally);
        if stop.load(Ordering::Relaxed) || pace.limit.is_some_and(|l| tally.changes >= l) {
            break;
        }
        let wait = wait_before_next(tally.changes, pace.rate, now - began);
        if !wait.is_zero() {
            std::thread::sleep(wait.min(TICK).min(status.due(now)));
            continue;
        }
        let mut size = mix.transaction_size() as u64;
        if let Some(limit) = pace.limit {
            size = size.min(limit - tally.changes);
        }
        let mut tx = client
            .transaction()
            .map_err(sql_error("starting a transaction"))?;
        for _ in 0..size {
            let change = mix.next_change();
            apply(&mut tx, &statements, mix, &change, &mut tally)?;
            tally.changes += 1;
        }
        tx.commit()
            .map_err(sql_error("committing a transaction of changes"))?;
        tally.transactions += 1;
    }
    status.print(Instant::now(), &tally);
    Ok(tally)
}

/// One prepared statement per kind of change.
struct Statements {
    insert: Statement,
    quantity: Statement,
    price: Statement,
    country: Statement,
    customer: Statement,
    product: Statement,
    delete: Statement,
}

impl Statements {
    fn prepare(client: &mut Client) -> Result<Statements, DbError> {
        let mut prepare = |sql: &str| {
            client
                .prepare(sql)
                .map_err(sql_error(format!("preparing `{}`", sql.trim())))
        };
        // Moves take `to` unless the row is already there (see changes::Move). In
        // an UPDATE every right-hand side sees the old row, so the CASEs agree.
        Ok(Statements {
            insert: prepare(
                "INSERT INTO public.sales_data (invoiceno, stockcode, description, quantity, \
                 invoicedate, unitprice, customerid, country) \
                 VALUES ($1, $2, $3, $4, $5, $6::int8 / 100.0, $7, $8) RETURNING id",
            )?,
            quantity: prepare(
                "UPDATE public.sales_data SET quantity = \
                 (CASE WHEN quantity < 0 THEN -1 ELSE 1 END) \
                 * (CASE WHEN abs(quantity) = $2::int4 THEN $3::int4 ELSE $2::int4 END) \
                 WHERE id = $1",
            )?,
            price: prepare(
                "UPDATE public.sales_data SET unitprice = round(unitprice * $2::int4 / 100, 2) \
                 WHERE id = $1",
            )?,
            country: prepare(
                "UPDATE public.sales_data SET country = \
                 CASE WHEN country = $2::text THEN $3::text ELSE $2::text END WHERE id = $1",
            )?,
            customer: prepare(
                "UPDATE public.sales_data SET \
                 customerid = CASE WHEN customerid = $2::int4 THEN $4::int4 ELSE $2::int4 END, \
                 country = CASE WHEN customerid = $2::int4 THEN $5::text ELSE $3::text END \
                 WHERE id = $1",
            )?,
            product: prepare(
                "UPDATE public.sales_data SET \
                 stockcode = CASE WHEN stockcode = $2::text THEN $6::text ELSE $2::text END, \
                 description = CASE WHEN stockcode = $2::text THEN $7::text ELSE $3::text END, \
                 unitprice = (CASE WHEN stockcode = $2::text \
                     THEN (CASE WHEN abs(quantity) >= 100 THEN $9::int8 ELSE $8::int8 END) \
                     ELSE (CASE WHEN abs(quantity) >= 100 THEN $5::int8 ELSE $4::int8 END) END) \
                     / 100.0 \
                 WHERE id = $1",
            )?,
            delete: prepare("DELETE FROM public.sales_data WHERE id = $1")?,
        })
    }
}

fn apply(
    tx: &mut Transaction<'_>,
    st: &Statements,
    mix: &mut ChangeMix<'_>,
    change: &Change,
    tally: &mut Tally,
) -> Result<(), DbError> {
    match change {
        Change::Insert(sale) => {
            let row = tx
                .query_one(
                    &st.insert,
                    &[
                        &sale.invoice,
                        &sale.stock_code,
                        &sale.description,
                        &sale.quantity,
                        &sale.invoice_date,
                        &sale.price_cents,
                        &sale.customer,
                        &sale.country,
                    ],
                )
                .map_err(sql_error("inserting a sale"))?;
            let id: i64 = row
                .try_get(0)
                .map_err(sql_error("reading an inserted id"))?;
            mix.inserted(id);
            tally.inserts += 1;
        }
        Change::Update { id, update } => {
            let updated = match update {
                Update::Quantity(Move { to, otherwise }) => {
                    tx.execute(&st.quantity, &[id, to, otherwise])
                }
                Update::Price { percent } => tx.execute(&st.price, &[id, percent]),
                Update::Country(Move { to, otherwise }) => {
                    tx.execute(&st.country, &[id, to, otherwise])
                }
                Update::Customer(Move { to, otherwise }) => tx.execute(
                    &st.customer,
                    &[id, &to.id, &to.country, &otherwise.id, &otherwise.country],
                ),
                Update::Product(Move { to, otherwise }) => tx.execute(
                    &st.product,
                    &[
                        id,
                        &to.stock_code,
                        &to.description,
                        &to.price_cents,
                        &to.bulk_price_cents,
                        &otherwise.stock_code,
                        &otherwise.description,
                        &otherwise.price_cents,
                        &otherwise.bulk_price_cents,
                    ],
                ),
            }
            .map_err(sql_error(format!("updating sale {id}")))?;
            if updated == 0 {
                mix.forget(*id);
                tally.vanished += 1;
            } else {
                tally.updates += updated;
            }
        }
        Change::Delete { id } => {
            let deleted = tx
                .execute(&st.delete, &[id])
                .map_err(sql_error(format!("deleting sale {id}")))?;
            tally.deletes += deleted;
            tally.vanished += u64::from(deleted == 0);
        }
    }
    Ok(())
}

/// The once-a-second status line.
struct Status {
    began: Instant,
    next: Instant,
    last_at: Instant,
    last_changes: u64,
}

impl Status {
    fn new(began: Instant) -> Status {
        Status {
            began,
            next: began + STATUS_EVERY,
            last_at: began,
            last_changes: 0,
        }
    }

    /// Time until the next line is due.
    fn due(&self, now: Instant) -> Duration {
        self.next.saturating_duration_since(now)
    }

    fn maybe_print(&mut self, now: Instant, tally: &Tally) {
        if now >= self.next {
            self.print(now, tally);
            // After a stall, one line rather than a burst of catch-up lines.
            self.next += STATUS_EVERY;
            if self.next <= now {
                self.next = now + STATUS_EVERY;
            }
        }
    }

    fn print(&mut self, now: Instant, tally: &Tally) {
        let per_second = |changes: u64, since: Instant| {
            let secs = (now - since).as_secs_f64();
            if secs > 0.0 {
                changes as f64 / secs
            } else {
                0.0
            }
        };
        eprintln!(
            "changes {} (ins {}, upd {}, del {}) in {} transactions: {:.1}/s now, {:.1}/s overall",
            tally.changes,
            tally.inserts,
            tally.updates,
            tally.deletes,
            tally.transactions,
            per_second(tally.changes - self.last_changes, self.last_at),
            per_second(tally.changes, self.began),
        );
        self.last_at = now;
        self.last_changes = tally.changes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_spreads_changes_over_time() {
        let ms = Duration::from_millis;
        // Nothing done yet: start at once.
        assert_eq!(wait_before_next(0, 10.0, ms(0)), ms(0));
        // 10 changes at 10/s are due at 1 s.
        assert_eq!(wait_before_next(10, 10.0, ms(400)), ms(600));
        // Behind schedule: no wait, so it catches up.
        assert_eq!(wait_before_next(10, 10.0, ms(1_500)), ms(0));
        // A tiny rate does not overflow.
        assert!(wait_before_next(u64::MAX, 1e-300, ms(0)) > Duration::from_secs(1 << 40));
    }
}
