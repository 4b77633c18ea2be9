//! Turns a seed into a stream of sales lines, grouped into invoices.

use crate::catalog::{Catalog, Product, Sampler, COUNTRIES};
use crate::tables::{BULK_QUANTITIES, SMALL_QUANTITIES};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// First invoice number, as in the Online Retail data set.
pub const FIRST_INVOICE: u32 = 536365;
const NULL_CUSTOMER_SHARE: f64 = 0.25;
/// Cancellations are short (1.6 lines on average against ~8), so 9% of invoices
/// gives ~2% of lines.
const CANCEL_INVOICE_SHARE: f64 = 0.09;
const AWAY_FROM_HOME_SHARE: f64 = 0.03;
const BULK_LINE_SHARE: f64 = 0.007;
const ZERO_PRICE_SHARE: f64 = 0.0005;

/// One generated line; borrowed from the generator until the next call.
pub struct Row<'a> {
    pub invoice: u32,
    pub cancelled: bool,
    pub product: &'a Product,
    pub quantity: i32,
    pub price_cents: i64,
    pub customer: Option<u32>,
    pub country: &'static str,
    /// `YYYY-MM-DDTHH:MM:SS`
    pub timestamp: &'a [u8; 19],
}

pub struct Generator<'c> {
    catalog: &'c Catalog,
    rng: StdRng,
    calendar: Calendar,
    small_quantities: Sampler,
    total_rows: u64,
    emitted: u64,
    next_invoice: u32,
    invoice: u32,
    cancelled: bool,
    lines_left: u32,
    customer: Option<u32>,
    country: usize,
    second: u64,
    timestamp: [u8; 19],
}

impl<'c> Generator<'c> {
    pub fn new(
        catalog: &'c Catalog,
        seed: u64,
        total_rows: u64,
        start: NaiveDate,
        days: u32,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let calendar = Calendar::new(start, days, &mut rng);
        Generator {
            catalog,
            rng,
            calendar,
            small_quantities: Sampler::new(SMALL_QUANTITIES.iter().map(|&(_, w)| w as f64)),
            total_rows,
            emitted: 0,
            next_invoice: FIRST_INVOICE,
            invoice: 0,
            cancelled: false,
            lines_left: 0,
            customer: None,
            country: 0,
            second: 0,
            timestamp: [0; 19],
        }
    }

    /// Numbers invoices from `first` instead of [`FIRST_INVOICE`], so a
    /// generator can continue where another stopped.
    pub fn with_first_invoice(mut self, first: u32) -> Self {
        self.next_invoice = first;
        self
    }

    /// The number the next invoice will get.
    pub fn next_invoice(&self) -> u32 {
        self.next_invoice
    }

    /// The next line, or `None` once `total_rows` lines have been produced.
    pub fn next_row(&mut self) -> Option<Row<'_>> {
        if self.emitted >= self.total_rows {
            return None;
        }
        if self.lines_left == 0 {
            self.start_invoice();
        }
        self.lines_left -= 1;
        self.emitted += 1;
        let catalog = self.catalog;
        let product = catalog.pick_product(&mut self.rng);
        let (quantity, price_cents) = self.quantity_and_price(product);
        Some(Row {
            invoice: self.invoice,
            cancelled: self.cancelled,
            product,
            quantity,
            price_cents,
            customer: self.customer,
            country: COUNTRIES[self.country].0,
            timestamp: &self.timestamp,
        })
    }

    fn start_invoice(&mut self) {
        let rng = &mut self.rng;
        self.invoice = self.next_invoice;
        self.next_invoice += 1;
        self.cancelled = rng.random_bool(CANCEL_INVOICE_SHARE);
        let u: f64 = rng.random();
        self.lines_left = if self.cancelled {
            1 + (3.0 * u * u) as u32
        } else {
            (1 + (20.0 * u.powf(1.6)) as u32).min(20)
        };
        if rng.random_bool(NULL_CUSTOMER_SHARE) {
            self.customer = None;
            self.country = self.catalog.pick_country(rng);
        } else {
            let customer = self.catalog.pick_customer(rng);
            self.customer = Some(customer.id);
            self.country = if rng.random_bool(AWAY_FROM_HOME_SHARE) {
                self.catalog.pick_country(rng)
            } else {
                customer.home_country
            };
        }
        // Time follows the position in the stream, so it never goes backwards.
        let position = self.emitted as f64 / self.total_rows as f64;
        self.second = self.calendar.second_at(position).max(self.second);
        self.calendar.format(self.second, &mut self.timestamp);
    }

    fn quantity_and_price(&mut self, product: &Product) -> (i32, i64) {
        let rng = &mut self.rng;
        let bulk = rng.random_bool(BULK_LINE_SHARE);
        let quantity = if bulk {
            BULK_QUANTITIES[rng.random_range(0..BULK_QUANTITIES.len())]
        } else {
            SMALL_QUANTITIES[self.small_quantities.sample(rng)].0
        };
        let cents = if quantity >= 100 {
            product.bulk_price_cents
        } else {
            product.price_cents
        };
        if self.cancelled {
            (-quantity, cents)
        } else if rng.random_bool(ZERO_PRICE_SHARE) {
            (quantity, 0)
        } else {
            (quantity, cents)
        }
    }
}

/// Trading days (Saturdays skipped, as in the source data) with uneven volume.
struct Calendar {
    days: Vec<[u8; 10]>,
    /// Cumulative share of the stream at the end of each day; the last is 1.0.
    cumulative: Vec<f64>,
}

impl Calendar {
    fn new(start: NaiveDate, days: u32, rng: &mut StdRng) -> Self {
        let all: Vec<NaiveDate> = (0..days.max(1) as u64)
            .filter_map(|i| start.checked_add_days(Days::new(i)))
            .collect();
        let mut trading: Vec<NaiveDate> = all
            .iter()
            .copied()
            .filter(|d| d.weekday() != Weekday::Sat)
            .collect();
        if trading.is_empty() {
            trading = all;
        }
        let n = trading.len() as f64;
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (0..trading.len())
            .map(|i| {
                // Busier towards the end of the range, plus day-to-day noise.
                total += (0.6 + 0.8 * rng.random::<f64>()) * (1.0 + 0.6 * i as f64 / n);
                total
            })
            .collect();
        cumulative.iter_mut().for_each(|c| *c /= total);
        let days = trading
            .iter()
            .map(|d| {
                let mut b = [0u8; 10];
                b.copy_from_slice(d.format("%Y-%m-%d").to_string().as_bytes());
                b
            })
            .collect();
        Calendar { days, cumulative }
    }

    /// Seconds since midnight of the first day for a position in `[0, 1)`.
    fn second_at(&self, position: f64) -> u64 {
        let last = self.cumulative.len() - 1;
        let day = self
            .cumulative
            .partition_point(|&c| c <= position)
            .min(last);
        let lo = if day == 0 {
            0.0
        } else {
            self.cumulative[day - 1]
        };
        let u = ((position - lo) / (self.cumulative[day] - lo)).clamp(0.0, 1.0);
        day as u64 * 86_400 + business_second(u)
    }

    fn format(&self, second: u64, out: &mut [u8; 19]) {
        let day = (second / 86_400) as usize;
        let s = second % 86_400;
        out[..10].copy_from_slice(&self.days[day.min(self.days.len() - 1)]);
        out[10] = b'T';
        for (i, v) in [s / 3600, s / 60 % 60, s % 60].into_iter().enumerate() {
            out[11 + 3 * i] = b'0' + (v / 10) as u8;
            out[12 + 3 * i] = b'0' + (v % 10) as u8;
            if i < 2 {
                out[13 + 3 * i] = b':';
            }
        }
    }
}

/// Maps a day fraction to a time of day: 3% 07:00–08:00, 92% 08:00–17:30,
/// 5% 17:30–20:30. Monotonic, so later positions never get earlier times.
fn business_second(u: f64) -> u64 {
    const H: f64 = 3600.0;
    let s = if u < 0.03 {
        7.0 * H + u / 0.03 * H
    } else if u < 0.95 {
        8.0 * H + (u - 0.03) / 0.92 * 9.5 * H
    } else {
        17.5 * H + (u - 0.95) / 0.05 * 3.0 * H
    };
    (s as u64).min(86_399)
}
