#!/usr/bin/env bash
# bench/credits.sh — wrk against POST /api/v1/admin/credits/deduct, beside a
# plain net/http "hello" server measured in the same run (issue 5).
#
#   bench/credits.sh                 # SQLite, synchronous=FULL (the store's default: every commit durable)
#   bench/credits.sh sqlite-normal   # SQLite, ?synchronous=normal
#   bench/credits.sh postgres        # PostgreSQL (database "credits" on $PG_ADMIN_URL's server, recreated)
#
# It builds steward and bench/hello, starts both on 127.0.0.1 on a fresh
# database, logs in as the bootstrap operator, creates one tenant "Bench" and
# $TENANTS more, grants each 10^12 credits (more than any run can spend),
# checks that one deduct answers 201, then runs
# `wrk -t$THREADS -c$CONNS -d$DURATION --latency` against hello, deducts of 1
# from the one tenant, deducts of 1 spread over the $TENANTS tenants (each
# request takes the next tenant, so the tenants of one batch differ), and
# hello again. It fails if any deduct answered other than 2xx (a 402 would
# mean the grant ran out), checks that the ledger holds at least as many
# deducts as wrk counted answers, runs `steward doctor` on the same database
# (after stopping the server on SQLite; beside it on PostgreSQL), and prints
# req/s, p50, p99 and the ratio to the mean hello. Every target is
# 127.0.0.1; every wrk run is bounded.
# The admin rate limit is off (STEWARD_ADMIN_RATE_LIMIT=0): one session
# drives every request, and this measures the ledger, not the limit.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${1:-sqlite}
BENCH_DIR=${BENCH_DIR:-/tmp/steward-bench}
PORT=${STEWARD_PORT:-18092}
HELLO_PORT=${HELLO_PORT:-18091}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
TENANTS=${TENANTS:-64}
GRANT=${GRANT:-1000000000000}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable}
EMAIL=bench@credits.local
PASSWORD=bench-password-1
mkdir -p "$BENCH_DIR/bin"
go build -o "$BENCH_DIR/bin/steward" ./cmd/steward
go build -o "$BENCH_DIR/bin/hello" ./bench/hello

case $BACKEND in
sqlite | sqlite-normal)
	rm -f "$BENCH_DIR"/credits.db*
	DB="sqlite:$BENCH_DIR/credits.db"
	SYNC="synchronous=FULL (the store's default)"
	if [ "$BACKEND" = sqlite-normal ]; then
		DB="$DB?synchronous=normal"
		SYNC="synchronous=NORMAL"
	fi
	;;
postgres)
	psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS credits" -c "CREATE DATABASE credits"
	DB=${PG_ADMIN_URL/\/postgres\?/\/credits\?}
	SYNC="synchronous_commit=$(psql -qAt "$DB" -c 'SHOW synchronous_commit'), fsync=$(psql -qAt "$DB" -c 'SHOW fsync')"
	;;
*)
	echo "usage: $0 [sqlite|sqlite-normal|postgres]" >&2
	exit 2
	;;
esac

for p in "$PORT" "$HELLO_PORT"; do
	if curl -s -o /dev/null "http://127.0.0.1:$p/"; then
		echo "something already answers on 127.0.0.1:$p; set STEWARD_PORT / HELLO_PORT" >&2
		exit 1
	fi
done
steward=(env STEWARD_DB="$DB" STEWARD_ADDR="127.0.0.1:$PORT" STEWARD_BOOTSTRAP_EMAIL="$EMAIL"
	STEWARD_BOOTSTRAP_PASSWORD="$PASSWORD" STEWARD_LOG_LEVEL=warn STEWARD_ADMIN_RATE_LIMIT=0 "$BENCH_DIR/bin/steward")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"${steward[@]}" serve >"$BENCH_DIR/credits-$BACKEND.log" 2>&1 &
server=$!
pids+=("$server")
"$BENCH_DIR/bin/hello" -addr "127.0.0.1:$HELLO_PORT" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && curl -fs "http://127.0.0.1:$HELLO_PORT/" >/dev/null && break
	sleep 0.1
done
kill -0 "$server" || { echo "steward serve exited; see $BENCH_DIR/credits-$BACKEND.log" >&2; exit 1; }

api() { curl -fsS -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$@"; }
TOKEN=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/auth/login" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | jq -r .access_token)
tenant() { # name → id, granted $GRANT credits
	local id
	id=$(api /api/v1/admin/tenants -d "{\"name\":\"$1\"}" | jq -r .id)
	api /api/v1/admin/credits/grant -d "{\"tenant_id\":\"$id\",\"amount\":$GRANT,\"description\":\"bench grant\"}" >/dev/null
	echo "$id"
}
TENANT=$(tenant Bench)
MANY=()
for i in $(seq "$TENANTS"); do MANY+=("$(tenant "Bench $i")"); done

BODY="{\"tenant_id\":\"$TENANT\",\"amount\":1,\"description\":\"bench\"}"
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$PORT/api/v1/admin/credits/deduct" -d "$BODY")
[ "$CODE" = 201 ] || { echo "a deduct answered $CODE, not 201" >&2; exit 1; }

cat >"$BENCH_DIR/credits-one.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
# Each thread starts at another tenant and takes the next one per request.
cat >"$BENCH_DIR/credits-many.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local ids = { $(printf '"%s", ' "${MANY[@]}") }
local threads = 0
function setup(thread)
	thread:set("cursor", threads * 7)
	threads = threads + 1
end
function request()
	cursor = cursor + 1
	return wrk.format(nil, nil, nil,
		'{"tenant_id":"' .. ids[cursor % #ids + 1] .. '","amount":1,"description":"bench"}')
end
LUA

run() { # name, wrk args…
	local name=$1
	shift
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" >"$BENCH_DIR/credits-$BACKEND-$name.wrk"
}
run hello1 "http://127.0.0.1:$HELLO_PORT/"
run deduct -s "$BENCH_DIR/credits-one.lua" "http://127.0.0.1:$PORT/api/v1/admin/credits/deduct"
run many -s "$BENCH_DIR/credits-many.lua" "http://127.0.0.1:$PORT/api/v1/admin/credits/deduct"
run hello2 "http://127.0.0.1:$HELLO_PORT/"

wrkfile() { echo "$BENCH_DIR/credits-$BACKEND-$1.wrk"; }
rps() { awk '/^Requests\/sec/ {print $2}' "$(wrkfile "$1")"; }
answers() { awk '/ requests in / {print $1}' "$(wrkfile "$1")"; }
pct() { awk -v p="$2%" '$1 == p {print $2}' "$(wrkfile "$1")"; }
errs() { awk '/Non-2xx|Socket errors/ {print}' "$(wrkfile "$1")"; }
# What the ledger took from a tenant: the grant less its balance now.
spent() { api "/api/v1/admin/credits/$1/balance" | jq -r --argjson g "$GRANT" '$g - .balance'; }

failed=0
for t in deduct many; do
	if [ -n "$(errs $t)" ]; then
		echo "$t: $(errs $t | tr '\n' ' ')— a 402 would mean the grant ran out; see $(wrkfile $t)" >&2
		failed=1
	fi
done
one=$(($(spent "$TENANT") - 1)) # less the check above
many=0 least= most=0
for id in "${MANY[@]}"; do
	n=$(spent "$id")
	many=$((many + n))
	[ -z "$least" ] || [ "$n" -lt "$least" ] && least=$n
	[ "$n" -gt "$most" ] && most=$n
done
ledger_ok=yes
[ "$one" -ge "$(answers deduct)" ] && [ "$many" -ge "$(answers many)" ] || ledger_ok=NO

if [ "$BACKEND" != postgres ]; then # one process owns the file: stop the server first
	kill "$server"
	wait "$server" || true
	# synchronous is a setting of each connection, not of the file, so
	# sqlite3 cannot read back the server's; journal_mode is in the file.
	JOURNAL=$(sqlite3 "$BENCH_DIR/credits.db" 'PRAGMA journal_mode' 2>/dev/null || echo '?')
	SYNC="$SYNC, journal_mode=$JOURNAL"
fi
doctor_rc=0
doctor=$("${steward[@]}" doctor 2>&1) || doctor_rc=$?

h1=$(rps hello1) h2=$(rps hello2)
hello=$(awk -v a="$h1" -v b="$h2" 'BEGIN {printf "%.0f", (a + b) / 2}')
ratio() { awk -v a="$1" -v b="$hello" 'BEGIN {printf "%.3f", a / b}'; }
printf '\n%s, %s, wrk -t%s -c%s -d%s\n' "$BACKEND" "$SYNC" "$THREADS" "$CONNS" "$DURATION"
printf 'STEWARD_DB=%s\n' "$DB"
printf '%-14s %12s %10s %10s %8s\n' target req/s p50 p99 ratio
printf '%-14s %12s %10s %10s %8s\n' hello "$hello" "$(pct hello1 50)" "$(pct hello1 99)" 1.00
printf '%-14s %12s %10s %10s %8s\n' deduct "$(rps deduct)" "$(pct deduct 50)" "$(pct deduct 99)" "$(ratio "$(rps deduct)")"
printf '%-14s %12s %10s %10s %8s\n' "deduct x$TENANTS" "$(rps many)" "$(pct many 50)" "$(pct many 99)" "$(ratio "$(rps many)")"
printf 'hello runs: %s and %s req/s\n' "$h1" "$h2"
printf 'ledger: %s deducts from Bench (wrk counted %s answers), %s from the %s others (wrk: %s; %s to %s each): %s\n' \
	"$one" "$(answers deduct)" "$many" "$TENANTS" "$(answers many)" "$least" "$most" "$ledger_ok"
# wrk drops its connections at the end of a run; a deduct then in flight
# fails with context canceled, and with it the rest of its batch (5xx in the
# server's log, never seen by wrk; see docs/benchmarks.md, Credits ledger).
printf 'server log: %s answers with status 5xx, after wrk had gone (%s)\n' \
	"$(grep -c 'status=5' "$BENCH_DIR/credits-$BACKEND.log" || true)" "$BENCH_DIR/credits-$BACKEND.log"
printf 'steward doctor (exit %s):\n%s\n' "$doctor_rc" "$doctor"
[ "$failed" = 0 ] && [ "$doctor_rc" = 0 ] && [ "$ledger_ok" = yes ]
