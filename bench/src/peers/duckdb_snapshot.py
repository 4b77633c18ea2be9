"""The DuckDB peer of the snapshot benchmark: load the CSV files, run the seed's four statements.

argv: a glob of the CSV files, the thread count, then the four statements as JSON.
Prints one JSON object (see BatchRun in peers/mod.rs).
"""
import json, resource, sys, time

import duckdb

files, threads, queries = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads TO {threads}")
con.execute("SET enable_progress_bar = false")
columns = {"InvoiceNo": "VARCHAR", "StockCode": "VARCHAR", "Description": "VARCHAR",
           "Quantity": "BIGINT", "InvoiceDate": "TIMESTAMP", "UnitPrice": "DECIMAL(18, 2)",
           "CustomerID": "BIGINT", "Country": "VARCHAR"}
types = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
t0 = time.perf_counter()
con.execute(f"CREATE TABLE sales_data AS SELECT * FROM read_csv('{files}', header = true, columns = {types})")
t1 = time.perf_counter()
results = [con.execute(q).fetchall() for q in queries]
t2 = time.perf_counter()
print(json.dumps({
    "load_seconds": t1 - t0,
    "query_seconds": t2 - t1,
    "result_rows": [len(r) for r in results],
    "sales_by_country": [[str(c), str(v)] for c, v in results[2]],
    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}))
