#!/usr/bin/env bash
# A three-table join plus aggregation (issue 5): revenue per country and month of LINES order
# lines joined to their orders and the orders' customers,
#
#   SELECT c.country, EXTRACT(MONTH FROM o.placed) AS month, SUM(l.qty * l.price) AS revenue,
#          COUNT(*) AS lines
#   FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id
#   GROUP BY c.country, EXTRACT(MONTH FROM o.placed)
#
# read from CSV files (one transaction per file). It reports the pipeline's throughput over all
# input rows (from start-up until every file is applied) and its resident memory and cache size
# once done. The peer, measured in the same run on the same files, is DuckDB (from PyPI) running
# the same query once with the same number of threads (1): a batch engine that keeps no state.
# The two results are compared row by row.
#
#   bench/join_aggregation.sh                   # 1M order lines, 250k orders, 50k customers
#   LINES=100000 bench/join_aggregation.sh      # a quick run
set -euo pipefail
LINES=${LINES:-1000000}
FILES=${FILES:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

venv="$root/target/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import duckdb' 2>/dev/null || "$venv/bin/pip" install --quiet duckdb
cargo build --release -q -p dozerc --manifest-path "$root/Cargo.toml"
bin="$root/target/release"
export DOZER_TARGET_DIR="$root/target/pipelines"

# Seeded data: every order line names an order, every order a customer.
python3 - "$work/data" "$LINES" "$FILES" <<'PY'
import os, random, sys
out, lines, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(5)
orders, customers = lines // 4, max(lines // 20, 1)
countries = ["UK", "FR", "DE", "US", "ES", "IT", "NL", "SE"]
def write(table, header, rows_of, count):
    os.makedirs(f"{out}/{table}", exist_ok=True)
    per = -(-count // files)
    for f in range(files):
        with open(f"{out}/{table}/{f:03}.csv", "w") as fh:
            fh.write(header + "\n")
            for i in range(f * per, min(count, (f + 1) * per)):
                fh.write(rows_of(i) + "\n")
write("customers", "id,country", lambda i: f"{i},{rng.choice(countries)}", customers)
write("orders", "id,customer_id,placed",
      lambda i: f"{i},{rng.randrange(customers)},2024-{rng.randint(1, 12):02}-{rng.randint(1, 28):02} 10:00:00", orders)
write("order_lines", "order_id,line,qty,price",
      lambda i: f"{rng.randrange(orders)},{i},{rng.randint(1, 9)},{rng.randint(1, 9999) / 100:.2f}", lines)
PY
rows=$(( $(cat "$work"/data/*/*.csv | wc -l) - 3 * FILES ))

cat > "$work/dozer-config.yaml" <<YAML
app_name: join_bench
connections:
  - name: files
    config: !LocalStorage
      details: { path: data }
      tables:
        - !Table
          name: customers
          config: !CSV { path: customers, extension: .csv, schema: { id: Int, country: String } }
        - !Table
          name: orders
          config: !CSV { path: orders, extension: .csv, schema: { id: Int, customer_id: Int, placed: Timestamp } }
        - !Table
          name: order_lines
          config: !CSV { path: order_lines, extension: .csv, schema: { order_id: Int, line: Int, qty: Int, price: Decimal } }
sources:
  - { name: customers, table_name: customers, connection: files }
  - { name: orders, table_name: orders, connection: files }
  - { name: order_lines, table_name: order_lines, connection: files }
sql: |
  SELECT c.country, EXTRACT(MONTH FROM o.placed) AS month, SUM(l.qty * l.price) AS revenue, COUNT(*) AS lines
  INTO revenue
  FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id
  GROUP BY c.country, EXTRACT(MONTH FROM o.placed);
endpoints:
  - { name: revenue, path: /revenue, table_name: revenue }
YAML
"$bin/dozerc" build -c "$work/dozer-config.yaml" -o "$work/crate" >/dev/null 2>&1
(cd "$work/crate" && CARGO_TARGET_DIR="$DOZER_TARGET_DIR" cargo build --release -q)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
position() { curl -sf "localhost:$port/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["position"])' 2>/dev/null || echo 0; }
start=$(date +%s.%N)
"$DOZER_TARGET_DIR/release/join-bench" --home-dir "$work/home" --rest-host 127.0.0.1 \
  --rest-port "$port" --poll-ms 50 >"$work/pipeline.log" 2>&1 &
pid=$!
while [ "$(position)" -lt $((3 * FILES)) ]; do
  kill -0 "$pid" 2>/dev/null || { echo "pipeline exited" >&2; tail -20 "$work/pipeline.log" >&2; exit 1; }
  sleep 0.1
done
end=$(date +%s.%N)
rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
curl -sf "localhost:$port/revenue?limit=1000" > "$work/served.json"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
cache=$(du -sm "$work/home" | cut -f1)

"$venv/bin/python" - "$work" "$rows" "$start" "$end" "$rss" "$hwm" "$cache" <<'PY'
import decimal, json, resource, sys, time
import duckdb
work, rows, start, end, rss, hwm, cache = sys.argv[1:]
rows = int(rows)
con = duckdb.connect()
con.execute("SET threads TO 1")
t0 = time.perf_counter()
for table, columns in [("customers", {"id": "BIGINT", "country": "VARCHAR"}),
                       ("orders", {"id": "BIGINT", "customer_id": "BIGINT", "placed": "TIMESTAMP"}),
                       ("order_lines", {"order_id": "BIGINT", "line": "BIGINT", "qty": "BIGINT", "price": "DECIMAL(18, 2)"})]:
    types = "{" + ", ".join(f"'{name}': '{ty}'" for name, ty in columns.items()) + "}"
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{work}/data/{table}/*.csv', header = true, columns = {types})")
result = con.execute("""
    SELECT c.country, EXTRACT(MONTH FROM o.placed) AS month, SUM(l.qty * l.price) AS revenue, COUNT(*) AS lines
    FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id
    GROUP BY c.country, EXTRACT(MONTH FROM o.placed)""").fetchall()
peer_seconds = time.perf_counter() - t0
peer_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
served = {(r["country"], int(decimal.Decimal(str(r["month"])))): (decimal.Decimal(r["revenue"]), r["lines"])
          for r in json.load(open(f"{work}/served.json"))}
expected = {(c, int(m)): (decimal.Decimal(v), n) for c, m, v, n in result}
agree = "yes" if served == expected else f"NO ({len(served)} rows served, {len(expected)} expected)"
ours = rows / (float(end) - float(start))
theirs = rows / peer_seconds
print(f"| dozerc pipeline (incremental) | {rows:,} | {ours:,.0f} | {hwm} MiB peak, {rss} MiB at end | {cache} MiB | {len(served)} |")
print(f"| DuckDB {duckdb.__version__}, 1 thread (batch, peer) | {rows:,} | {theirs:,.0f} | {peer_rss:.1f} MiB peak | n/a | {len(expected)} |")
print(f"\nratio (dozerc / DuckDB throughput): {ours / theirs:.2f}; results agree: {agree}")
PY
