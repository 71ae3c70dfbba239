#!/usr/bin/env bash
# bench/features.sh — wrk against GET /api/v1/platform/features?user_id=…
# (a user in a tenant, with overrides at every tier), beside a plain
# net/http "hello" server measured in the same run.
#
#   bench/features.sh            # SQLite
#   bench/features.sh postgres   # PostgreSQL (database "features" on $PG_ADMIN_URL's server, recreated)
#
# It builds steward and bench/hello, starts both on 127.0.0.1 on a fresh
# database, logs in as the bootstrap operator, creates a tenant on "pro"
# with a tenant override, a member with a user override, a platform value
# and a platform key holding features:read, checks one answer, then runs
# `wrk -t$THREADS -c$CONNS -d$DURATION --latency` against hello, features,
# hello, and prints req/s, p50, p99 and the ratio to the mean hello. Every
# target is 127.0.0.1; every wrk run is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${1:-sqlite}
BENCH_DIR=${BENCH_DIR:-/tmp/steward-bench}
PORT=${STEWARD_PORT:-18190}
HELLO_PORT=${HELLO_PORT:-18189}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable}
EMAIL=bench@features.local
PASSWORD=bench-password-1
mkdir -p "$BENCH_DIR/bin"
go build -o "$BENCH_DIR/bin/steward" ./cmd/steward
go build -o "$BENCH_DIR/bin/hello" ./bench/hello

case $BACKEND in
sqlite)
	rm -f "$BENCH_DIR"/features.db*
	DB="sqlite:$BENCH_DIR/features.db"
	;;
postgres)
	psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS features" -c "CREATE DATABASE features"
	DB=${PG_ADMIN_URL/\/postgres\?/\/features\?}
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
	STEWARD_LOG_LEVEL=warn "$BENCH_DIR/bin/steward" serve >"$BENCH_DIR/features-$BACKEND.log" 2>&1 &
pids+=($!)
"$BENCH_DIR/bin/hello" -addr "127.0.0.1:$HELLO_PORT" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && curl -fs "http://127.0.0.1:$HELLO_PORT/" >/dev/null && break
	sleep 0.1
done

api() { curl -fsS -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$@"; }
TOKEN=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/auth/login" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | jq -r .access_token)
PLATFORM=$(api /api/v1/admin/api-keys -d '{"name":"bench product","key_type":"platform","scopes":["features:read"]}' | jq -r .key)
TENANT_ID=$(api /api/v1/admin/tenants -d '{"name":"Bench Features","plan":"pro"}' | jq -r .id)
USER_ID=$(api /api/v1/admin/users -d "{\"email\":\"end.user@features.local\",\"tenant_id\":\"$TENANT_ID\"}" | jq -r .id)
api /api/v1/admin/config -X PUT -d '{"features":{"audit_log_days":14}}' >/dev/null
api "/api/v1/admin/tenants/$TENANT_ID/features" -X PUT -d '{"audit_log_days":120}' >/dev/null
api "/api/v1/admin/users/$USER_ID/features" -X PUT -d '{"api_access":false}' >/dev/null
URL="http://127.0.0.1:$PORT/api/v1/platform/features?user_id=$USER_ID"
GOT=$(curl -fsS "$URL" -H "Authorization: Bearer $PLATFORM" | jq -c '[.features.api_access, .features.audit_log_days, .features.sso]')
[ "$GOT" = '[false,120,true]' ] || { echo "features answered $GOT, not [false,120,true]" >&2; exit 1; }

run() { # name, wrk args…
	local name=$1
	shift
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" >"$BENCH_DIR/features-$BACKEND-$name.wrk"
}
run hello1 "http://127.0.0.1:$HELLO_PORT/"
run features -H "Authorization: Bearer $PLATFORM" "$URL"
run hello2 "http://127.0.0.1:$HELLO_PORT/"

rps() { awk '/^Requests\/sec/ {print $2}' "$BENCH_DIR/features-$BACKEND-$1.wrk"; }
pct() { awk -v p="$2%" '$1 == p {print $2}' "$BENCH_DIR/features-$BACKEND-$1.wrk"; }
errs() { awk '/Non-2xx|Socket errors/ {print}' "$BENCH_DIR/features-$BACKEND-$1.wrk"; }
h1=$(rps hello1) h2=$(rps hello2) f=$(rps features)
hello=$(awk -v a="$h1" -v b="$h2" 'BEGIN {printf "%.0f", (a + b) / 2}')
printf '\n%s, wrk -t%s -c%s -d%s\n' "$BACKEND" "$THREADS" "$CONNS" "$DURATION"
printf '%-8s %12s %10s %10s %8s\n' target req/s p50 p99 ratio
printf '%-8s %12s %10s %10s %8s\n' hello "$hello" "$(pct hello1 50)" "$(pct hello1 99)" 1.00
printf '%-8s %12s %10s %10s %8s\n' features "$f" "$(pct features 50)" "$(pct features 99)" \
	"$(awk -v a="$f" -v b="$hello" 'BEGIN {printf "%.2f", a / b}')"
printf 'hello runs: %s and %s req/s\n' "$h1" "$h2"
errs features || true
