#!/usr/bin/env bash
# bench/verify.sh — wrk against POST /api/v1/platform/keys/verify with a
# valid key, beside a plain net/http "hello" server measured in the same run.
#
#   bench/verify.sh            # SQLite
#   bench/verify.sh postgres   # PostgreSQL (database "verify" on $PG_ADMIN_URL's server, recreated)
#
# It builds steward and bench/hello, starts both on 127.0.0.1 on a fresh
# database, logs in as the bootstrap operator, creates a platform key with
# keys:verify (the caller) and an end user's key (the key being verified,
# with allowed_ips, so the address check runs too), checks one verification
# answers VALID, then runs `wrk -t$THREADS -c$CONNS -d$DURATION --latency`
# against hello, verify, hello, and prints req/s, p50, p99 and the ratio to
# the mean hello. Every target is 127.0.0.1; every wrk run is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${1:-sqlite}
BENCH_DIR=${BENCH_DIR:-/tmp/steward-bench}
PORT=${STEWARD_PORT:-18090}
HELLO_PORT=${HELLO_PORT:-18089}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable}
EMAIL=bench@verify.local
PASSWORD=bench-password-1
mkdir -p "$BENCH_DIR/bin"
go build -o "$BENCH_DIR/bin/steward" ./cmd/steward
go build -o "$BENCH_DIR/bin/hello" ./bench/hello

case $BACKEND in
sqlite)
	rm -f "$BENCH_DIR"/verify.db*
	DB="sqlite:$BENCH_DIR/verify.db"
	;;
postgres)
	psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS verify" -c "CREATE DATABASE verify"
	DB=${PG_ADMIN_URL/\/postgres\?/\/verify\?}
	;;
*)
	echo "usage: $0 [sqlite|postgres]" >&2
	exit 2
	;;
esac

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
STEWARD_DB=$DB STEWARD_ADDR=127.0.0.1:$PORT STEWARD_BOOTSTRAP_EMAIL=$EMAIL STEWARD_BOOTSTRAP_PASSWORD=$PASSWORD \
	STEWARD_LOG_LEVEL=warn "$BENCH_DIR/bin/steward" serve >"$BENCH_DIR/verify-$BACKEND.log" 2>&1 &
pids+=($!)
"$BENCH_DIR/bin/hello" -addr "127.0.0.1:$HELLO_PORT" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && curl -fs "http://127.0.0.1:$HELLO_PORT/" >/dev/null && break
	sleep 0.1
done

api() { curl -fsS -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$@"; }
TOKEN=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/auth/login" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | jq -r .access_token)
PLATFORM=$(api /api/v1/admin/api-keys -d '{"name":"bench caller","key_type":"platform","scopes":["keys:verify"]}' | jq -r .key)
USER_ID=$(api /api/v1/admin/users -d '{"email":"end.user@verify.local"}' | jq -r .id)
KEY=$(api /api/v1/admin/api-keys -d "{\"name\":\"bench user key\",\"key_type\":\"user\",\"user_id\":\"$USER_ID\",\"allowed_ips\":[\"10.0.0.0/8\"]}" | jq -r .key)
BODY="{\"key\":\"$KEY\",\"ip\":\"10.1.2.3\",\"scope\":\"read\"}"
CODE=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/platform/keys/verify" -H "Authorization: Bearer $PLATFORM" -d "$BODY" | jq -r .code)
[ "$CODE" = VALID ] || { echo "verification answered $CODE, not VALID" >&2; exit 1; }

cat >"$BENCH_DIR/verify.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $PLATFORM"
LUA

run() { # name, wrk args…
	local name=$1
	shift
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" >"$BENCH_DIR/verify-$BACKEND-$name.wrk"
}
run hello1 "http://127.0.0.1:$HELLO_PORT/"
run verify -s "$BENCH_DIR/verify.lua" "http://127.0.0.1:$PORT/api/v1/platform/keys/verify"
run hello2 "http://127.0.0.1:$HELLO_PORT/"

rps() { awk '/^Requests\/sec/ {print $2}' "$BENCH_DIR/verify-$BACKEND-$1.wrk"; }
pct() { awk -v p="$2%" '$1 == p {print $2}' "$BENCH_DIR/verify-$BACKEND-$1.wrk"; }
errs() { awk '/Non-2xx|Socket errors/ {print}' "$BENCH_DIR/verify-$BACKEND-$1.wrk"; }
h1=$(rps hello1) h2=$(rps hello2) v=$(rps verify)
hello=$(awk -v a="$h1" -v b="$h2" 'BEGIN {printf "%.0f", (a + b) / 2}')
printf '\n%s, wrk -t%s -c%s -d%s\n' "$BACKEND" "$THREADS" "$CONNS" "$DURATION"
printf '%-8s %12s %10s %10s %8s\n' target req/s p50 p99 ratio
printf '%-8s %12s %10s %10s %8s\n' hello "$hello" "$(pct hello1 50)" "$(pct hello1 99)" 1.00
printf '%-8s %12s %10s %10s %8s\n' verify "$v" "$(pct verify 50)" "$(pct verify 99)" \
	"$(awk -v a="$v" -v b="$hello" 'BEGIN {printf "%.2f", a / b}')"
printf 'hello runs: %s and %s req/s\n' "$h1" "$h2"
errs verify || true
