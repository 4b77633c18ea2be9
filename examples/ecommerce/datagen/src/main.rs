//! `ecommerce-datagen`: deterministic, fast generator of sales lines shaped
//! like the UCI "Online Retail" data set, for the ecommerce example pipeline.
//!
//! Output is RFC 4180 CSV (LF line ends) with the header
//! `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country`:
//!
//! * `InvoiceNo` counts up from `536365`; each invoice has 1–20 consecutive
//!   lines. About 2% of lines belong to cancellations: `C`-prefixed invoice,
//!   negative `Quantity`.
//! * `StockCode` is one of 4,000 products (`85123A`, `22423`, …) drawn with a
//!   Zipf-like skew; each has a fixed `Description` (upper case, some with
//!   commas and double quotes) and a fixed base `UnitPrice`.
//! * `Quantity` is mostly 1–24, occasionally up to 1,000 (with a bulk
//!   discount on the price).
//! * `InvoiceDate` is `YYYY-MM-DDTHH:MM:SS` (UTC, no offset), non-decreasing
//!   through the files, over `--days` days from `--start`, skipping Saturdays,
//!   mostly 08:00–17:30.
//! * `UnitPrice` has two decimals, `0.00` (rarely) up to a few hundred.
//! * `CustomerID` is 12346–18287, empty (NULL) on ~25% of lines; a customer
//!   mostly buys from one home country.
//! * `Country` is one of ~38, ~85% "United Kingdom".
//!
//! The same arguments always give the same bytes: the product catalog comes
//! from a constant seed, the transactions from `--seed` (a seeded `StdRng`),
//! and nothing reads the clock or iterates a hash map.

mod catalog;
mod generator;
mod output;
mod tables;
#[cfg(test)]
mod tests;

use anyhow::{ensure, Result};
use chrono::NaiveDate;
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "ecommerce-datagen",
    about = "Generate Online-Retail-shaped sales CSV"
)]
struct Args {
    /// Total number of data rows (header lines not counted).
    #[arg(long)]
    rows: u64,
    /// Seed for the transaction stream.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Number of files to split the rows across (sales-0001.csv, …).
    #[arg(long, default_value_t = 1)]
    files: usize,
    /// First day of the date range (YYYY-MM-DD).
    #[arg(long, default_value = "2010-12-01")]
    start: NaiveDate,
    /// Number of days the invoices are spread over.
    #[arg(long, default_value_t = 180)]
    days: u32,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.files >= 1, "--files must be at least 1");
    ensure!(args.days >= 1, "--days must be at least 1");
    let began = Instant::now();
    let catalog = catalog::Catalog::new();
    let mut gen = generator::Generator::new(&catalog, args.seed, args.rows, args.start, args.days);
    let rows_per_file = output::split_rows(args.rows, args.files);
    let paths = output::write_files(&mut gen, &rows_per_file, &args.out)?;
    eprintln!(
        "wrote {} rows to {} file(s) in {} ({:.2?})",
        args.rows,
        paths.len(),
        args.out.display(),
        began.elapsed()
    );
    Ok(())
}
