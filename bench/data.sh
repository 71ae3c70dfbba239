#!/usr/bin/env bash
# bench/data.sh — wrk against the data admin's list of a 1,000,000-row
# product table (GET /api/v1/admin/data/bench_orders, filtered on status,
# newest first, 50 rows), at the first page and at a page 200 rows from the
# end, each beside a plain net/http "hello" server measured in the same run.
#
#   bench/data.sh            # Steward on SQLite; the product table in its own SQLite file
#   ROWS=100000 bench/data.sh
#
# bench/dataseed writes the product's file (bench_orders, an index on
# (status, created_at)); a configuration file names it as a data source.
# The admin rate limit is off: one session drives every request. Every
# target is 127.0.0.1; every wrk run is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_NAME=data
STEWARD_PORT=${STEWARD_PORT:-18192}
HELLO_PORT=${HELLO_PORT:-18191}
ROWS=${ROWS:-1000000}
# shellcheck source=bench/lib.sh
. bench/lib.sh

mkdir -p "$BENCH_DIR"
go run ./bench/dataseed -db "$BENCH_DIR/app.db" -rows "$ROWS"
cat >"$BENCH_DIR/data.toml" <<TOML
[data.sources.app]
dsn = "sqlite:$BENCH_DIR/app.db"

[[data.tables]]
name = "bench_orders"
source = "app"
TOML
BENCH_ENV=(STEWARD_CONFIG="$BENCH_DIR/data.toml" STEWARD_ADMIN_RATE_LIMIT=0)
bench_start

LIST="http://127.0.0.1:$PORT/api/v1/admin/data/bench_orders?filter%5Bstatus%5D%5Beq%5D=paid&sort=-created_at&limit=50"
FIRST=$(curl -fsS "$LIST" -H "Authorization: Bearer $TOKEN")
[ "$(echo "$FIRST" | jq '.data | length')" = 50 ] || { echo "first page: $FIRST" >&2; exit 1; }

# A cursor 200 rows from the end: walk the paid rows 200 at a time.
PAID=$((ROWS / 4))
CURSOR=""
walked=0
while [ $((walked + 400)) -le "$PAID" ]; do
	PAGE=$(curl -fsS "${LIST/limit=50/limit=200}${CURSOR:+&cursor=$CURSOR}" -H "Authorization: Bearer $TOKEN")
	CURSOR=$(echo "$PAGE" | jq -r .next_cursor)
	walked=$((walked + 200))
done
[ "$(curl -fsS "$LIST&cursor=$CURSOR" -H "Authorization: Bearer $TOKEN" | jq '.data | length')" = 50 ] ||
	{ echo "the deep page is not full" >&2; exit 1; }
echo "deep cursor after $walked of $PAID paid rows"

bench_hello_around first -H "Authorization: Bearer $TOKEN" "$LIST"
bench_hello_around deep -H "Authorization: Bearer $TOKEN" "$LIST&cursor=$CURSOR"
