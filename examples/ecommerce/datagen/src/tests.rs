use crate::catalog::{Catalog, FIRST_CUSTOMER, LAST_CUSTOMER, PRODUCT_COUNT};
use crate::generator::Generator;
use crate::output::{split_rows, write_csv, HEADER};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2010, 12, 1).unwrap()
}

fn generate(catalog: &Catalog, seed: u64, rows: u64) -> Vec<u8> {
    let mut gen = Generator::new(catalog, seed, rows, start(), 180);
    write_csv(&mut gen, rows, Vec::new()).unwrap()
}

fn parse(bytes: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().unwrap().clone();
    let rows = reader.records().map(|r| r.unwrap()).collect();
    (header, rows)
}

#[test]
fn same_seed_same_bytes() {
    let catalog = Catalog::new();
    let a = generate(&catalog, 7, 5_000);
    let b = generate(&Catalog::new(), 7, 5_000);
    assert_eq!(a, b);
    assert_ne!(a, generate(&catalog, 8, 5_000));
}

#[test]
fn split_files_continue_one_stream() {
    assert_eq!(split_rows(10, 3), vec![4, 3, 3]);
    let catalog = Catalog::new();
    let whole = generate(&catalog, 3, 1_000);
    let mut gen = Generator::new(&catalog, 3, 1_000, start(), 180);
    let mut joined = Vec::new();
    for (i, rows) in split_rows(1_000, 3).into_iter().enumerate() {
        let part = write_csv(&mut gen, rows, Vec::new()).unwrap();
        let skip = if i == 0 {
            0
        } else {
            part.iter().position(|&b| b == b'\n').unwrap() + 1
        };
        joined.extend_from_slice(&part[skip..]);
    }
    assert_eq!(whole, joined);
}

#[test]
fn catalog_is_fixed_and_consistent() {
    let catalog = Catalog::new();
    assert_eq!(catalog.products.len(), PRODUCT_COUNT);
    assert!(catalog.products.iter().any(|p| p.description.contains(',')));
    assert!(catalog.products.iter().any(|p| p.description.contains('"')));
    assert_eq!(
        catalog.customers.len() as u32,
        LAST_CUSTOMER - FIRST_CUSTOMER + 1
    );
}

#[test]
fn rows_have_the_online_retail_shape() {
    let catalog = Catalog::new();
    let rows_wanted = 20_000;
    let (header, rows) = parse(&generate(&catalog, 42, rows_wanted));
    assert_eq!(header.iter().collect::<Vec<_>>(), HEADER);
    assert_eq!(rows.len() as u64, rows_wanted);

    let descriptions: BTreeMap<&str, &str> = catalog
        .products
        .iter()
        .map(|p| (p.stock_code.as_str(), p.description.as_str()))
        .collect();
    let (mut nulls, mut returns, mut uk) = (0usize, 0usize, 0usize);
    let mut last_date = String::new();
    let mut lines_per_invoice: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let invoice = &r[0];
        let quantity: i32 = r[3].parse().unwrap();
        *lines_per_invoice.entry(invoice.to_string()).or_default() += 1;
        if let Some(number) = invoice.strip_prefix('C') {
            returns += 1;
            assert!(quantity < 0, "return with quantity {quantity}");
            assert!(number.parse::<u32>().is_ok());
        } else {
            assert!(invoice.parse::<u32>().unwrap() >= 536365);
            assert!((1..=1000).contains(&quantity), "quantity {quantity}");
        }
        assert_eq!(
            descriptions[&r[1]], &r[2],
            "description is fixed per stock code"
        );
        let date = &r[4];
        assert_eq!(date.len(), 19);
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").unwrap();
        assert!(date >= last_date.as_str(), "dates go backwards at {date}");
        last_date = date.to_string();
        let price = Decimal::from_str(&r[5]).unwrap();
        assert_eq!(price.scale(), 2);
        assert!(price >= Decimal::ZERO && price < Decimal::from(400));
        if r[6].is_empty() {
            nulls += 1;
        } else {
            let id: u32 = r[6].parse().unwrap();
            assert!((FIRST_CUSTOMER..=LAST_CUSTOMER).contains(&id));
        }
        uk += usize::from(&r[7] == "United Kingdom");
    }
    let share = |n: usize| n as f64 / rows.len() as f64;
    assert!(
        (0.18..0.32).contains(&share(nulls)),
        "NULL customer share {}",
        share(nulls)
    );
    assert!(
        (0.01..0.035).contains(&share(returns)),
        "return share {}",
        share(returns)
    );
    assert!((0.78..0.92).contains(&share(uk)), "UK share {}", share(uk));
    // The last invoice may be cut short by --rows; all others have 1–20 lines.
    assert!(lines_per_invoice.values().all(|&n| (1..=20).contains(&n)));
    assert!(last_date.as_str() < "2011-05-31");
}
