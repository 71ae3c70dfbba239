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

BENCH_NAME=features
STEWARD_PORT=${STEWARD_PORT:-18190}
HELLO_PORT=${HELLO_PORT:-18189}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_start

PLATFORM=$(api /api/v1/admin/api-keys -d '{"name":"bench product","key_type":"platform","scopes":["features:read"]}' | jq -r .key)
TENANT_ID=$(api /api/v1/admin/tenants -d '{"name":"Bench Features","plan":"pro"}' | jq -r .id)
USER_ID=$(api /api/v1/admin/users -d "{\"email\":\"end.user@features.local\",\"tenant_id\":\"$TENANT_ID\"}" | jq -r .id)
api /api/v1/admin/config -X PUT -d '{"features":{"audit_log_days":14}}' >/dev/null
api "/api/v1/admin/tenants/$TENANT_ID/features" -X PUT -d '{"audit_log_days":120}' >/dev/null
api "/api/v1/admin/users/$USER_ID/features" -X PUT -d '{"api_access":false}' >/dev/null
URL="http://127.0.0.1:$PORT/api/v1/platform/features?user_id=$USER_ID"
GOT=$(curl -fsS "$URL" -H "Authorization: Bearer $PLATFORM" | jq -c '[.features.api_access, .features.audit_log_days, .features.sso]')
[ "$GOT" = '[false,120,true]' ] || { echo "features answered $GOT, not [false,120,true]" >&2; exit 1; }

bench_hello_around features -H "Authorization: Bearer $PLATFORM" "$URL"
