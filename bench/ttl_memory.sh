#!/usr/bin/env bash
# Memory under TTL (issue 4): stream the seed's daily_sales statement,
#   TTL(TUMBLE(sales_data, InvoiceDate, '1 DAY'), InvoiceDate, '1 DAY'),
# over ROWS generated sales rows in FILES time-ordered files (one transaction each), and report
# the pipeline's resident memory after the first FIRST files (1M rows by default) and after all of
# them (10M). Under TTL the two should be within 20%: expired days are purged, so state and cache
# hold about two days whatever the length of the stream.
#
#   bench/ttl_memory.sh                      # 10M rows in 100 files
#   ROWS=1000000 FILES=20 FIRST=2 bench/ttl_memory.sh   # a quick run
#
# Prints a Markdown table: the TTL statement, then the same windows without TTL (the peer,
# measured in the same run). BENCHMARKS.md records it with the machine it ran on.
set -euo pipefail
ROWS=${ROWS:-10000000}
FILES=${FILES:-100}
FIRST=${FIRST:-10}
DAYS=${DAYS:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p dozerc -p ecommerce-datagen --manifest-path "$root/Cargo.toml"
bin="$root/target/release"
"$bin/ecommerce-datagen" --rows "$ROWS" --files "$FILES" --days "$DAYS" --out "$work/staging" >/dev/null 2>&1
export DOZER_TARGET_DIR="$root/target/pipelines"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
position() { curl -sf "localhost:$port/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["position"])' 2>/dev/null || echo 0; }
wait_for() {
  while [ "$(position)" -lt "$1" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "pipeline exited" >&2; tail -20 "$1.log" >&2; exit 1; }
    sleep 0.2
  done
}
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
rows_in() { local n=0; for f in "$@"; do n=$((n + $(wc -l < "$f") - 1)); done; echo "$n"; }

# run_case NAME FROM: the seed's daily_sales over FROM, streamed; prints two table rows.
run_case() {
  local name=$1 from=$2 case_dir="$work/$1"
  mkdir -p "$case_dir/data/sales"
  cat > "$case_dir/dozer-config.yaml" <<YAML
app_name: $name
connections:
  - name: files
    config: !LocalStorage
      details: { path: data }
      tables:
        - !Table
          name: sales_data
          config: !CSV
            path: sales
            extension: .csv
            schema: { InvoiceNo: String, StockCode: String, Description: String, Quantity: Int,
                      InvoiceDate: Timestamp, UnitPrice: Decimal, CustomerID: Int, Country: String }
sources:
  - { name: sales_data, table_name: sales_data, connection: files }
sql: |
  SELECT SUM(t.Quantity * t.UnitPrice) as total_sales, t.window_start as start, t.window_end AS end
  INTO daily_sales
  FROM $from t;
endpoints:
  - { name: daily_sales, path: /daily_sales, table_name: daily_sales }
YAML
  "$bin/dozerc" build -c "$case_dir/dozer-config.yaml" -o "$case_dir/crate" >/dev/null 2>&1
  (cd "$case_dir/crate" && CARGO_TARGET_DIR="$DOZER_TARGET_DIR" cargo build --release -q)
  local files=("$work"/staging/sales-*.csv)
  for f in "${files[@]:0:$FIRST}"; do cp "$f" "$case_dir/data/sales/"; done
  "$DOZER_TARGET_DIR/release/${name//_/-}" --home-dir "$case_dir/home" --rest-host 127.0.0.1 \
    --rest-port "$port" --poll-ms 50 >"$case_dir.log" 2>&1 &
  pid=$!
  local start end first_rows first_rss first_days all_rows all_rss all_days cache late
  start=$(date +%s.%N)
  wait_for "$FIRST"
  first_rows=$(rows_in "$case_dir"/data/sales/*.csv)
  first_rss=$(rss_mib)
  first_days=$(curl -sf -X POST "localhost:$port/daily_sales/count" -d '{}')
  # The rest, as a stream would deliver them: one transaction per file.
  for f in "${files[@]:$FIRST}"; do cp "$f" "$case_dir/data/sales/"; done
  wait_for "$FILES"
  end=$(date +%s.%N)
  all_rows=$(rows_in "$case_dir"/data/sales/*.csv)
  all_rss=$(rss_mib)
  all_days=$(curl -sf -X POST "localhost:$port/daily_sales/count" -d '{}')
  cache=$(du -sm "$case_dir/home" | cut -f1)
  late=$(curl -sf "localhost:$port/metrics" | awk '/^dozer_late_changes_total/ { print $2 }')
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  python3 - "$name" "$first_rows" "$first_rss" "$first_days" "$all_rows" "$all_rss" "$all_days" \
    "$cache" "${late:-n/a}" "$start" "$end" <<'PY'
import sys
name, r1, m1, d1, r2, m2, d2, cache, late, start, end = sys.argv[1:]
rate = float(r2) / (float(end) - float(start))
print(f"| {name} | {int(r1):,} | {m1} MiB | {d1} | {int(r2):,} | {m2} MiB | {d2} | "
      f"{float(m2) / float(m1):.3f} | {cache} MiB | {late} | {rate:,.0f} |")
PY
  rm -rf "$case_dir/data" "$case_dir/home"
}

echo "| statement | rows | resident memory | windows served | rows | resident memory | windows served | memory ratio | cache folder | late changes | rows/s |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
run_case ttl_daily_sales "TTL(TUMBLE(sales_data, InvoiceDate, '1 DAY'), InvoiceDate, '1 DAY')"
# The peer, in the same run: the same windows without TTL keep every day.
run_case tumble_daily_sales "TUMBLE(sales_data, InvoiceDate, '1 DAY')"
