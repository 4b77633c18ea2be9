//! The peers every figure is measured beside.

pub mod duckdb;
pub mod fixed_server;
pub mod postgres_batch;

/// The seed's four statements as a batch engine runs them: `daily_sales` as a plain GROUP BY
/// day (every day, where the pipeline's TTL keeps two), the rest verbatim without INTO.
pub const SEED_QUERIES: [(&str, &str); 4] = [
    ("customer_lifetime_value", "SELECT CustomerID, SUM(Quantity*UnitPrice) AS LifetimeValue FROM sales_data GROUP BY CustomerID"),
    ("bestsellers", "SELECT StockCode, SUM(Quantity) AS BuyCount FROM sales_data GROUP BY StockCode"),
    ("sales_by_country", "SELECT Country, SUM(Quantity * UnitPrice) AS TotalSales FROM sales_data GROUP BY Country"),
    ("daily_sales", "SELECT SUM(Quantity * UnitPrice) AS total_sales, date_trunc('day', InvoiceDate) AS start FROM sales_data GROUP BY 2"),
];

/// What a batch peer did with the snapshot's files.
#[derive(Debug, Default, serde::Deserialize)]
pub struct BatchRun {
    /// Reading the files into a table.
    pub load_seconds: f64,
    /// The four statements, every result row fetched.
    pub query_seconds: f64,
    /// Result rows per statement, in [`SEED_QUERIES`] order.
    pub result_rows: Vec<u64>,
    /// `sales_by_country`: country and total, as text.
    pub sales_by_country: Vec<(String, String)>,
    /// Peak resident memory of the engine's process, where it can be read.
    #[serde(default)]
    pub peak_rss_bytes: u64,
    /// Bytes the loaded table takes, where the engine says.
    #[serde(default)]
    pub table_bytes: u64,
}

impl BatchRun {
    pub fn seconds(&self) -> f64 {
        self.load_seconds + self.query_seconds
    }
}
