//! The command line: CSV files by default (`--rows N --out DIR`, as always),
//! or `postgres` to load the rows into a table and then write live changes.

use crate::postgres::DEFAULT_URL;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "ecommerce-datagen",
    about = "Generate Online-Retail-shaped sales: CSV files, or rows and live changes in Postgres",
    after_help = "Examples:\n  \
        ecommerce-datagen --rows 100000 --out examples/ecommerce/data/sales\n  \
        ecommerce-datagen postgres --create-database --rows 100000 --rate 50",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand: write CSV files.
    #[command(flatten)]
    pub csv: Option<CsvArgs>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load sales rows into Postgres (public.sales_data), then optionally keep
    /// inserting, updating and deleting rows at a steady rate.
    #[command(
        long_about = "Load sales rows into Postgres, then optionally keep changing them.\n\n\
            Creates public.sales_data if missing (id bigserial primary key plus the CSV's \
            columns, REPLICA IDENTITY FULL) and appends --rows generated lines with COPY: the \
            same lines the CSV mode writes for the same --rows, --seed, --start and --days. \
            With --rate, it then writes a seeded mix of ~70% inserts, ~20% updates (quantity or \
            price changes, and moves to another country, customer or stock code) and ~10% \
            deletes, in transactions of 1-5 changes, until --changes or Ctrl-C.",
        after_help = "Examples:\n  \
            ecommerce-datagen postgres --create-database --rows 100000\n  \
            ecommerce-datagen postgres --rows 0 --rate 50            # only changes, until Ctrl-C\n  \
            ecommerce-datagen postgres --url postgresql://postgres@db:5432/shop --rows 1000 --rate 200 --changes 5000"
    )]
    Postgres(PostgresArgs),
}

/// The generated stream: how many lines, which seed, which dates.
#[derive(Args, Debug)]
pub struct StreamArgs {
    /// Total number of data rows (header lines not counted).
    #[arg(long)]
    pub rows: u64,
    /// Seed for the transaction stream.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First day of the date range (YYYY-MM-DD).
    #[arg(long, default_value = "2010-12-01")]
    pub start: NaiveDate,
    /// Number of days the invoices are spread over.
    #[arg(long, default_value_t = 180)]
    pub days: u32,
}

/// The CSV mode's flags. [`StreamArgs`]' flags are repeated here rather than
/// flattened: clap does not see a nested flatten inside an optional one.
#[derive(Args, Debug)]
pub struct CsvArgs {
    /// Total number of data rows (header lines not counted).
    #[arg(long)]
    pub rows: u64,
    /// Seed for the transaction stream.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of files to split the rows across (sales-0001.csv, …).
    #[arg(long, default_value_t = 1)]
    pub files: usize,
    /// First day of the date range (YYYY-MM-DD).
    #[arg(long, default_value = "2010-12-01")]
    pub start: NaiveDate,
    /// Number of days the invoices are spread over.
    #[arg(long, default_value_t = 180)]
    pub days: u32,
}

impl CsvArgs {
    pub fn stream(&self) -> StreamArgs {
        StreamArgs {
            rows: self.rows,
            seed: self.seed,
            start: self.start,
            days: self.days,
        }
    }
}

#[derive(Args, Debug)]
pub struct PostgresArgs {
    /// Postgres to connect to: `key=value` pairs or a postgresql:// URL (no TLS).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Create the database named in --url if it does not exist (connects to
    /// the `postgres` database to do it).
    #[arg(long)]
    pub create_database: bool,
    /// Rows are appended (0 loads nothing); after them come the changes.
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Changes per second after loading (0: stop after loading).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Stop after this many changes (default: run until Ctrl-C).
    #[arg(long)]
    pub changes: Option<u64>,
}
