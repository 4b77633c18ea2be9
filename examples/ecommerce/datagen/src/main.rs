//! `ecommerce-datagen`: deterministic, fast generator of sales lines shaped
//! like the UCI "Online Retail" data set, for the ecommerce example pipeline.
//!
//! Two modes:
//!
//! * `ecommerce-datagen --rows N --out DIR` writes CSV files for
//!   `dozer-config.yaml` ([`output`]).
//! * `ecommerce-datagen postgres --rows N [--rate R]` loads the same lines
//!   into `public.sales_data` for `dozer-config.postgres.yaml`
//!   ([`postgres`]), then writes a steady mix of inserts, updates and deletes
//!   so the endpoints move ([`changes`], [`stream`]).
//!
//! CSV output is RFC 4180 (LF line ends) with the header
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
//! and nothing reads the clock or iterates a hash map. The Postgres changes
//! are seeded too; they also depend on the ids already in the table.

mod catalog;
mod changes;
mod cli;
mod generator;
mod interrupt;
mod output;
mod postgres;
mod stream;
mod tables;
#[cfg(test)]
mod tests;

use anyhow::{bail, ensure, Result};
use clap::{CommandFactory, Parser};
use cli::{Cli, Command, CsvArgs, PostgresArgs, StreamArgs};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (cli.command, cli.csv) {
        (Some(Command::Postgres(args)), _) => load_postgres(&args),
        (None, Some(args)) => write_csv_files(&args),
        // Neither: the CSV mode's required flags are missing; say so as clap would.
        (None, None) => Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "give --rows and --out to write CSV files, or use a subcommand (see --help)",
            )
            .exit(),
    };
    // The message and its causes, without the backtrace `main() -> Result` prints.
    if let Err(e) = result {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn check_stream(s: &StreamArgs) -> Result<()> {
    ensure!(s.days >= 1, "--days must be at least 1");
    Ok(())
}

fn write_csv_files(args: &CsvArgs) -> Result<()> {
    let s = &args.stream();
    check_stream(s)?;
    ensure!(args.files >= 1, "--files must be at least 1");
    let began = Instant::now();
    let catalog = catalog::Catalog::new();
    let mut gen = generator::Generator::new(&catalog, s.seed, s.rows, s.start, s.days);
    let rows_per_file = output::split_rows(s.rows, args.files);
    let paths = output::write_files(&mut gen, &rows_per_file, &args.out)?;
    eprintln!(
        "wrote {} rows to {} file(s) in {} ({:.2?})",
        s.rows,
        paths.len(),
        args.out.display(),
        began.elapsed()
    );
    Ok(())
}

fn load_postgres(args: &PostgresArgs) -> Result<()> {
    let s = &args.stream;
    check_stream(s)?;
    ensure!(
        args.rate.is_finite() && (args.rate == 0.0 || args.rate >= 0.001),
        "--rate must be 0 (stop after loading) or at least 0.001 changes per second"
    );
    if args.changes.is_some() && args.rate == 0.0 {
        bail!("--changes needs --rate above 0 (changes per second)");
    }
    let target = postgres::Target::parse(&args.url)?;
    if args.create_database && target.create_database_if_missing()? {
        eprintln!("created database `{}`", target.database);
    }
    let mut client = target.connect()?;
    postgres::prepare_table(&mut client)?;

    let catalog = catalog::Catalog::new();
    let mut gen = generator::Generator::new(&catalog, s.seed, s.rows, s.start, s.days);
    if s.rows > 0 {
        let began = Instant::now();
        let copied = postgres::load_rows(&mut client, &mut gen, s.rows)?;
        let secs = began.elapsed().as_secs_f64();
        eprintln!(
            "loaded {copied} rows into {} on {} in {secs:.2} s ({:.0} rows/s)",
            postgres::TABLE,
            target.server,
            copied as f64 / secs.max(1e-9)
        );
    } else {
        eprintln!("table {} ready on {}", postgres::TABLE, target.server);
    }
    if args.rate == 0.0 {
        return Ok(());
    }

    let live = postgres::live_ids(&mut client)?;
    // New sales continue after the loaded range: the next day, the next invoice.
    let first_day = s
        .start
        .checked_add_days(chrono::Days::new(u64::from(s.days)))
        .unwrap_or(s.start);
    let sales = changes::SaleStream::new(&catalog, s.seed, first_day, gen.next_invoice());
    let mut mix = changes::ChangeMix::new(&catalog, s.seed, live, sales);
    let stop = interrupt::stop_on_ctrl_c();
    let pace = stream::Pace {
        rate: args.rate,
        limit: args.changes,
    };
    let began = Instant::now();
    let tally = stream::run(&mut client, &mut mix, &pace, &stop)?;
    let secs = began.elapsed().as_secs_f64();
    eprintln!(
        "done: {} changes in {secs:.2} s ({:.1}/s): {} inserts, {} updates, {} deletes, \
         {} vanished, in {} transactions; {} rows now",
        tally.changes,
        tally.changes as f64 / secs.max(1e-9),
        tally.inserts,
        tally.updates,
        tally.deletes,
        tally.vanished,
        tally.transactions,
        mix.live_rows(),
    );
    Ok(())
}
