//! The fixed "world" behind the generated sales: products, countries and
//! customers.
//!
//! The catalog is built from a constant seed, so every run (whatever its
//! `--seed`) sees the same stock codes, descriptions, base prices and customer
//! home countries; `--seed` only drives the transactions.

use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeSet;

pub use crate::tables::COUNTRIES;
use crate::tables::{ITEMS, PRICE_TIERS, STYLES, THEMES};

/// Number of distinct products (stock codes).
pub const PRODUCT_COUNT: usize = 4000;
/// Customer ids span `FIRST_CUSTOMER..=LAST_CUSTOMER`, like the Online Retail set.
pub const FIRST_CUSTOMER: u32 = 12346;
pub const LAST_CUSTOMER: u32 = 18287;
const WORLD_SEED: u64 = 0x0EC0_2010_1201_5A1E;

pub struct Product {
    pub stock_code: String,
    /// Raw description; may contain commas and double quotes.
    pub description: String,
    /// Base unit price in pence.
    pub price_cents: i64,
    /// Wholesale price (85%, rounded half away from zero, at least 0.01) for
    /// lines of 100 or more.
    pub bulk_price_cents: i64,
}

pub struct Customer {
    pub id: u32,
    /// Index into [`COUNTRIES`].
    pub home_country: usize,
}

/// Weighted sampling by binary search over a cumulative table.
pub struct Sampler {
    cumulative: Vec<f64>,
}

impl Sampler {
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Sampler { cumulative }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().expect("non-empty sampler");
        let u = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}

pub struct Catalog {
    /// Sorted by stock code.
    pub products: Vec<Product>,
    /// Popularity rank -> index into `products`.
    by_rank: Vec<usize>,
    product_popularity: Sampler,
    pub customers: Vec<Customer>,
    customer_popularity: Sampler,
    country_weights: Sampler,
}

impl Catalog {
    pub fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(WORLD_SEED);
        let products = make_products(&mut rng);
        let mut by_rank: Vec<usize> = (0..products.len()).collect();
        by_rank.shuffle(&mut rng);
        // Zipf–Mandelbrot: a few hits (~1.5% of lines for the top one), long tail.
        let product_popularity = Sampler::new((0..products.len()).map(|k| 1.0 / (k as f64 + 11.0)));
        let country_weights = Sampler::new(COUNTRIES.iter().map(|&(_, w)| w as f64));
        let customers: Vec<Customer> = (FIRST_CUSTOMER..=LAST_CUSTOMER)
            .map(|id| Customer {
                id,
                home_country: country_weights.sample(&mut rng),
            })
            .collect();
        // Milder skew for customers; shuffle so rank does not follow the id.
        let mut customers = customers;
        customers.shuffle(&mut rng);
        let customer_popularity =
            Sampler::new((0..customers.len()).map(|k| 1.0 / (k as f64 + 50.0).powf(0.8)));
        Catalog {
            products,
            by_rank,
            product_popularity,
            customers,
            customer_popularity,
            country_weights,
        }
    }

    pub fn pick_product(&self, rng: &mut impl Rng) -> &Product {
        &self.products[self.by_rank[self.product_popularity.sample(rng)]]
    }

    pub fn pick_customer(&self, rng: &mut impl Rng) -> &Customer {
        &self.customers[self.customer_popularity.sample(rng)]
    }

    /// A country index drawn from the overall country mix.
    pub fn pick_country(&self, rng: &mut impl Rng) -> usize {
        self.country_weights.sample(rng)
    }
}

fn make_products(rng: &mut StdRng) -> Vec<Product> {
    let prices = Sampler::new(PRICE_TIERS.iter().map(|&(_, w)| w as f64));
    let mut codes = BTreeSet::new();
    let mut descriptions = BTreeSet::new();
    let mut products = Vec::with_capacity(PRODUCT_COUNT);
    while products.len() < PRODUCT_COUNT {
        let base = match rng.random_range(0..10) {
            0..=5 => rng.random_range(20000..23900),
            6..=8 => rng.random_range(84000..85300),
            _ => rng.random_range(10000..90000),
        };
        let code = if rng.random_bool(0.15) {
            format!("{base}{}", char::from(b'A' + rng.random_range(0..7u8)))
        } else {
            base.to_string()
        };
        let description = make_description(rng);
        if codes.contains(&code) || descriptions.contains(&description) {
            continue;
        }
        let price_cents = PRICE_TIERS[prices.sample(rng)].0;
        codes.insert(code.clone());
        descriptions.insert(description.clone());
        products.push(Product {
            stock_code: code,
            description,
            price_cents,
            bulk_price_cents: bulk_price(price_cents),
        });
    }
    products.sort_by(|a, b| a.stock_code.cmp(&b.stock_code));
    products
}

fn bulk_price(cents: i64) -> i64 {
    let mut bulk = (Decimal::new(cents, 2) * Decimal::new(85, 2))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    bulk.rescale(2);
    (bulk.mantissa() as i64).max(1)
}

fn make_description(rng: &mut StdRng) -> String {
    let style = STYLES[rng.random_range(0..STYLES.len())];
    let theme = THEMES[rng.random_range(0..THEMES.len())];
    let item = ITEMS[rng.random_range(0..ITEMS.len())];
    let prefix = match rng.random_range(0..20) {
        0 => format!("SET {} ", rng.random_range(2..13)),
        1 => format!("PACK OF {} ", [6, 12, 20, 60, 72][rng.random_range(0..5)]),
        _ => String::new(),
    };
    // A few descriptions carry commas and/or double quotes, to exercise CSV quoting.
    match rng.random_range(0..100) {
        0..=2 => format!("{prefix}{style}, {theme} {item}"),
        3..=4 => format!("{prefix}{style} \"{theme}\" {item}"),
        5 => format!("{prefix}{style}, \"{theme}\" {item}"),
        _ => format!("{prefix}{style} {theme} {item}"),
    }
}
