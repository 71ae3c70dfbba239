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

BENCH_NAME=verify
STEWARD_PORT=${STEWARD_PORT:-18090}
HELLO_PORT=${HELLO_PORT:-18089}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_start

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

bench_hello_around verify -s "$BENCH_DIR/verify.lua" "http://127.0.0.1:$PORT/api/v1/platform/keys/verify"
