use dozerc::diagnostics::{render, SourceFile};
const HEAD: &str = "app_name: shop
connections:
  - name: files
    config: !LocalStorage
      details:
        path: data
      tables:
        - !Table
          name: sales
          config: !CSV
            path: sales
            schema:
              InvoiceNo: String
              StockCode: String
              Quantity: Int
              InvoiceDate: Timestamp
              UnitPrice: Decimal
              CustomerID: Int
              Country: String
sources:
  - name: sales
    table_name: sales
    connection: files
sql: |
";
fn run(sql: &str, ep: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/sales")).unwrap();
    let body: String = sql.lines().map(|l| format!("  {l}\n")).collect();
    let yaml = format!("{HEAD}{body}{ep}");
    let cfg = dozerc::config::parse(SourceFile::new(dir.path().join("dozer-config.yaml"), "dozer-config.yaml", yaml.clone()), dir.path().to_path_buf()).unwrap();
    match dozerc::compile_loaded(cfg) {
        Ok(c) => println!("=== {sql}\nOK {:?}\n", c.pipeline.statements.iter().map(|s| &s.columns).collect::<Vec<_>>()),
        Err(e) => { let sp = e.span().map(|s| &yaml[s.start..s.end()]); println!("=== {sql}\n{}span={sp:?}\n", render(&e)) }
    }
}
#[test]
fn explore() {
    for sql in [
        "INSERT INTO t VALUES (1);",
        "WITH x AS (SELECT Country FROM sales) SELECT Country INTO t FROM x;",
        "SELECT Country INTO t FROM sales UNION SELECT Country FROM sales;",
        "SELECT Country INTO t FROM sales, sales;",
        "SELECT Country INTO t FROM (SELECT Country FROM sales) s;",
        "SELECT * INTO t FROM sales;",
        "SELECT Country INTO t FROM sales GROUP BY Country HAVING Quantity > 1;",
        "SELECT Country, SUM(Quantity), SUM(UnitPrice) INTO t FROM sales GROUP BY Country;",
        "SELECT x.Country INTO t FROM sales;",
        "SELECT s.Country INTO t FROM sales s;",
        "SELECT CAST(Country AS INT) AS c INTO t FROM sales;",
        "SELECT NULL AS x INTO t FROM sales;",
        "SELECT Country\nINTO t\nFROM sales\nWHERE Quantity >;",
        "SELECT Country, MIN(InvoiceDate) AS first, MAX(UnitPrice) AS m, COUNT(Quantity) AS c, SUM(UnitPrice) AS s INTO t FROM sales GROUP BY Country;",
        "SELECT COUNT(*) AS n INTO t FROM \"Sales\";",
        "SELECT COUNT(*) AS n INTO t FROM SALES;",
        "SELECT Country INTO t FROM u;",
        "SELECT Country INTO t FROM t;",
        "SELECT Country, SUM(Quantity) OVER () AS s INTO t FROM sales GROUP BY Country;",
        "SELECT Country, COUNT(DISTINCT Quantity) AS s INTO t FROM sales GROUP BY Country;",
        "SELECT Country INTO sales FROM sales;",
        "SELECT NOT Country AS b INTO t FROM sales;",
        "SELECT -Country AS b INTO t FROM sales;",
        "SELECT Country || 1 AS b INTO t FROM sales;",
        "SELECT Country INTO t FROM sales WHERE Quantity = 'x';",
        "SELECT Country INTO t FROM sales WHERE Quantity IN (1, 2);",
        "SELECT Country INTO t FROM sales WHERE Country LIKE 'U%';",
        "SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country;\nSELECT n INTO u FROM t;",
    ] { run(sql, ""); }
    run("SELECT COUNT(*) AS n INTO t FROM sales;", "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      primary_key:\n        - n\n");
    run("SELECT Country, COUNT(*) AS n INTO t FROM sales GROUP BY Country;\nSELECT n INTO u FROM t;", "endpoints:\n  - name: e\n    path: /e\n    table_name: u\n    index:\n      primary_key:\n        - n\n");
    run("SELECT Country INTO t FROM sales;", "endpoints:\n  - name: e\n    path: /e\n    table_name: t\n    index:\n      primary_key:\n        - Country\n");
    run("SELECT Country INTO t FROM sales;", "endpoints:\n  - name: e\n    path: /e\n    table_name: zzzzz\n");
    run("", "");
}
