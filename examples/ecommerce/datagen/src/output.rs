//! CSV output: header, per-row field formatting and splitting into files.

use crate::generator::Generator;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const HEADER: [&str; 8] = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
];
const BUFFER_BYTES: usize = 1 << 20;

/// `sales-0001.csv` for `index == 0`.
pub fn file_name(index: usize) -> String {
    format!("sales-{:04}.csv", index + 1)
}

/// Rows per file: as even as possible, earlier files take the remainder.
pub fn split_rows(rows: u64, files: usize) -> Vec<u64> {
    let k = files as u64;
    (0..k).map(|i| rows / k + u64::from(i < rows % k)).collect()
}

/// Writes `rows` lines (plus the header) from `gen` as RFC 4180 CSV.
pub fn write_csv<W: Write>(gen: &mut Generator<'_>, rows: u64, out: W) -> Result<W> {
    let mut csv = csv::WriterBuilder::new()
        .buffer_capacity(BUFFER_BYTES)
        .from_writer(out);
    csv.write_record(HEADER)?;
    let mut scratch = Vec::with_capacity(32);
    for _ in 0..rows {
        let Some(row) = gen.next_row() else { break };
        scratch.clear();
        if row.cancelled {
            scratch.push(b'C');
        }
        push_u64(&mut scratch, u64::from(row.invoice));
        csv.write_field(&scratch)?;
        csv.write_field(&row.product.stock_code)?;
        csv.write_field(&row.product.description)?;
        scratch.clear();
        if row.quantity < 0 {
            scratch.push(b'-');
        }
        push_u64(&mut scratch, u64::from(row.quantity.unsigned_abs()));
        csv.write_field(&scratch)?;
        csv.write_field(row.timestamp)?;
        scratch.clear();
        push_u64(&mut scratch, row.price_cents as u64 / 100);
        let cents = (row.price_cents % 100) as u8;
        scratch.extend_from_slice(&[b'.', b'0' + cents / 10, b'0' + cents % 10]);
        csv.write_field(&scratch)?;
        scratch.clear();
        if let Some(id) = row.customer {
            push_u64(&mut scratch, u64::from(id));
        }
        csv.write_field(&scratch)?;
        csv.write_field(row.country)?;
        csv.write_record(std::iter::empty::<&[u8]>())?;
    }
    csv.into_inner()
        .map_err(|e| anyhow::anyhow!("flushing CSV: {}", e.error()))
}

/// Writes `sales-0001.csv` … into `dir` (created if missing), one continuous
/// stream split across `rows_per_file.len()` files. Returns the paths written.
pub fn write_files(
    gen: &mut Generator<'_>,
    rows_per_file: &[u64],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut paths = Vec::with_capacity(rows_per_file.len());
    for (i, &rows) in rows_per_file.iter().enumerate() {
        let path = dir.join(file_name(i));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut file =
            write_csv(gen, rows, file).with_context(|| format!("writing {}", path.display()))?;
        file.flush()?;
        paths.push(path);
    }
    Ok(paths)
}

/// Appends the decimal digits of `v` without allocating.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}
