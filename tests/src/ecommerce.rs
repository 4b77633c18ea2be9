//! The e-commerce example as a test fixture: built once per test binary, run on copies of
//! its data.

use crate::pipeline::{build, BuiltPipeline, Running};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The example's three runnable statements, without INTO: what Postgres must agree with.
/// `/daily_sales` is `TTL(TUMBLE(..., '1 DAY'), InvoiceDate, '1 DAY')`: after the sample file
/// (one transaction) only the days whose last sale is within a day of the newest one are kept,
/// and every row [`derived_sales`] adds is from January, long expired, so it is dropped as late
/// (derived invoices start with `9`).
pub const QUERIES: [(&str, &str); 4] = [
    ("/clv", "SELECT CustomerID, SUM(Quantity*UnitPrice) AS LifetimeValue FROM sales_data GROUP BY CustomerID"),
    ("/bestsellers", "SELECT StockCode, SUM(Quantity) AS BuyCount FROM sales_data GROUP BY StockCode"),
    ("/sales_by_country", "SELECT Country, SUM(Quantity * UnitPrice) AS TotalSales FROM sales_data GROUP BY Country"),
    ("/daily_sales", "SELECT SUM(Quantity * UnitPrice) AS total_sales, \
        date_bin('1 day', InvoiceDate, timestamp '1970-01-01') AS start, \
        date_bin('1 day', InvoiceDate, timestamp '1970-01-01') + interval '1 day' AS \"end\" \
        FROM sales_data WHERE InvoiceNo NOT LIKE '9%' GROUP BY 2, 3 \
        HAVING MAX(InvoiceDate) > (SELECT MAX(InvoiceDate) FROM sales_data) - interval '1 day'"),
];

/// The sales table as Postgres holds it.
pub const SALES_TABLE: &str =
    "CREATE TABLE sales_data (InvoiceNo text, StockCode text, Description text, Quantity bigint, \
     InvoiceDate timestamp, UnitPrice numeric, CustomerID bigint, Country text)";

pub fn example_dir() -> PathBuf {
    crate::workspace_root().join("examples").join("ecommerce")
}

pub fn sample_csv() -> PathBuf {
    example_dir()
        .join("data")
        .join("sales")
        .join("sales-0001.csv")
}

/// The example pipeline, emitted and compiled once for the whole test binary.
pub fn pipeline() -> &'static BuiltPipeline {
    static BUILT: OnceLock<BuiltPipeline> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = crate::workspace_root()
            .join("target")
            .join("e2e")
            .join("ecommerce");
        match build(&example_dir().join("dozer-config.yaml"), &out) {
            Ok(built) => built,
            Err(e) => panic!("cannot build the example pipeline: {e:#}"),
        }
    })
}

/// A scratch copy of the data folder and a cache home of a test's own.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> anyhow::Result<Scratch> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("sales"))?;
        Ok(Scratch { dir })
    }

    pub fn sales_dir(&self) -> PathBuf {
        self.dir.path().join("sales")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Adds a CSV file atomically (written aside, then renamed in), as object stores do.
    pub fn add_file(&self, name: &str, content: &[u8]) -> anyhow::Result<PathBuf> {
        let staging = self.dir.path().join(format!("{name}.partial"));
        std::fs::write(&staging, content)?;
        let target = self.sales_dir().join(name);
        std::fs::rename(&staging, &target)?;
        Ok(target)
    }

    /// Starts the example pipeline on this scratch data.
    pub fn start(&self, port: u16) -> anyhow::Result<Running> {
        Running::start_with(
            &pipeline().binary,
            &self.home(),
            port,
            &[("sales_data", &self.sales_dir())],
        )
    }
}

/// A second day of sales derived from the sample: the same products and customers (so groups
/// change), new customers, NULL customers and returns, with different quantities.
pub fn derived_sales(sample: &Path, rows: usize) -> anyhow::Result<Vec<u8>> {
    let mut reader = csv::Reader::from_path(sample)?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(reader.headers()?)?;
    for (i, record) in reader.records().take(rows).enumerate() {
        let record = record?;
        let mut fields: Vec<String> = record.iter().map(str::to_string).collect();
        fields[0] = format!("9{}", fields[0]);
        let quantity: i64 = fields[3].parse().unwrap_or(1);
        fields[3] = match i % 7 {
            0 => (-quantity.abs()).to_string(),
            _ => (quantity * 2 + 1).to_string(),
        };
        if i % 11 == 0 {
            fields[6] = format!("{}", 20000 + i);
        } else if i % 13 == 0 {
            fields[6].clear();
        }
        writer.write_record(&fields)?;
    }
    Ok(writer.into_inner()?)
}
