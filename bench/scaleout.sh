#!/usr/bin/env bash
# bench/scaleout.sh — one and two Steward replicas on one durable PostgreSQL
# (issue 15, item 4), each target beside a plain net/http "hello" server
# measured in the same run.
#
#   PGFSYNC=on PGPORT=55433 scripts/pg-up >/dev/null   # a cluster with fsync=on, synchronous_commit=on
#   bench/scaleout.sh
#   PGPORT=55433 scripts/pg-down
#
# It builds steward and bench/hello, recreates the database "scaleout" on
# $PG_ADMIN_URL's server (refusing one whose fsync or synchronous_commit is
# off unless ALLOW_NONDURABLE=1: the goals are stated for PostgreSQL's
# default durability), starts two `steward serve` on it (127.0.0.1:$PORT_A
# and :$PORT_B) and hello, signs in, and sets up: a platform key with
# keys:verify and an end user's key to verify, a user to GET, one tenant
# "Bench" and $TENANTS more, each granted $GRANT credits.
#
# Then, for one replica (every connection to A) and for two (A and B at
# once: wrk cannot spread one run over two hosts, so one wrk per replica
# with half the threads and connections each, the sums reported), it runs
# `wrk --latency` for $DURATION against: key verification, GET a user by
# id, deducts of 1 from the one tenant, and deducts of 1 spread over the
# $TENANTS tenants. Hello runs before, between and after (-t$THREADS
# -c$CONNS); each configuration's ratio is to the mean of the hello runs
# around it. During each deduct run it polls the audit lag every
# $LAG_EVERY on both replicas: `steward_audit_pending` (and the oldest
# pending entry's age, if exported) from /metrics where the build has them, else `pending` from
# GET /admin/audit-log/verify; with neither (no audit sequencer: entries
# are sealed in their writing transaction) it prints n/a. Then it checks
# that no deduct run had a non-2xx answer and runs `steward doctor` on the
# database, and prints a table: req/s, p50, p99 (for two replicas the worse
# of the two wrk runs), × hello, and for two replicas the per-replica
# efficiency, sum / (2 × one replica).
#
# Both replicas run through the whole script (the second idles during the
# one-replica runs). Every target is 127.0.0.1; every wrk run is bounded;
# the processes it started are stopped on exit (by pid). wrk, hello, both
# replicas and PostgreSQL share the machine's cores: compare ratios to
# hello, not req/s across machines.
#
# Environment (defaults in brackets):
#   PG_ADMIN_URL  [postgres://postgres@127.0.0.1:55433/postgres?sslmode=disable]
#   BENCH_DIR     [/tmp/steward-bench]  binaries, logs, wrk output
#   PORT_A [18094]  PORT_B [18095]  HELLO_PORT [18093]
#   DURATION [10s]  THREADS [2]  CONNS [64]  TENANTS [64]  LAG_EVERY [0.2]
#   GRANT [1000000000000]  ALLOW_NONDURABLE [unset]
#   TARGETS [verify get-user deduct deduct-x$TENANTS]  a subset, to measure only those;
#     or add deduct-x$TENANTS-split: the same deducts, but with two replicas each
#     replica gets its own half of the tenants (tenant affinity at a load balancer)
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:55433/postgres?sslmode=disable}
BENCH_DIR=${BENCH_DIR:-/tmp/steward-bench}
PORT_A=${PORT_A:-18094}
PORT_B=${PORT_B:-18095}
HELLO_PORT=${HELLO_PORT:-18093}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
TENANTS=${TENANTS:-64}
GRANT=${GRANT:-1000000000000}
LAG_EVERY=${LAG_EVERY:-0.2}
EMAIL=bench@scaleout.local
PASSWORD=bench-password-1
OUT=$BENCH_DIR/scaleout
[ "$THREADS" -ge 2 ] && [ $((THREADS % 2)) = 0 ] && [ $((CONNS % 2)) = 0 ] ||
	{ echo "THREADS and CONNS must be even (two replicas get half each)" >&2; exit 2; }
for tool in wrk curl jq psql go; do
	command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
mkdir -p "$BENCH_DIR/bin" "$OUT"
rm -f "$OUT"/*.wrk "$OUT"/*.lag

psql -Xq "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS scaleout" -c "CREATE DATABASE scaleout"
DB=${PG_ADMIN_URL/\/postgres\?/\/scaleout\?}
FSYNC=$(psql -XqAt "$DB" -c 'SHOW fsync')
SYNC=$(psql -XqAt "$DB" -c 'SHOW synchronous_commit')
if [ "$FSYNC" != on ] || [ "$SYNC" != on ]; then
	if [ -z "${ALLOW_NONDURABLE:-}" ]; then
		echo "$PG_ADMIN_URL runs with fsync=$FSYNC, synchronous_commit=$SYNC; the goals are for fsync=on," \
			"synchronous_commit=on (PGFSYNC=on PGPORT=55433 scripts/pg-up), or set ALLOW_NONDURABLE=1" >&2
		exit 1
	fi
fi

go build -o "$BENCH_DIR/bin/steward" ./cmd/steward
go build -o "$BENCH_DIR/bin/hello" ./bench/hello
for p in "$PORT_A" "$PORT_B" "$HELLO_PORT"; do
	if curl -s -o /dev/null "http://127.0.0.1:$p/"; then
		echo "something already answers on 127.0.0.1:$p; set PORT_A / PORT_B / HELLO_PORT" >&2
		exit 1
	fi
done

steward=(env STEWARD_DB="$DB" STEWARD_BOOTSTRAP_EMAIL="$EMAIL" STEWARD_BOOTSTRAP_PASSWORD="$PASSWORD"
	STEWARD_LOG_LEVEL=warn STEWARD_ADMIN_RATE_LIMIT=0 "$BENCH_DIR/bin/steward")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# A first, alone, so that it alone migrates and bootstraps.
"${steward[@]}" serve --addr "127.0.0.1:$PORT_A" --replica-id bench-a >"$OUT/steward-a.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT_A/readyz" >/dev/null && break; sleep 0.1; done
"${steward[@]}" serve --addr "127.0.0.1:$PORT_B" --replica-id bench-b >"$OUT/steward-b.log" 2>&1 &
pids+=($!)
"$BENCH_DIR/bin/hello" -addr "127.0.0.1:$HELLO_PORT" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 300); do
	curl -fs "http://127.0.0.1:$PORT_B/readyz" >/dev/null && curl -fs "http://127.0.0.1:$HELLO_PORT/" >/dev/null && break
	sleep 0.1
done
for p in "$PORT_A" "$PORT_B"; do
	curl -fs "http://127.0.0.1:$p/readyz" >/dev/null || { echo "steward on :$p is not ready; see $OUT/steward-*.log" >&2; exit 1; }
done

A=http://127.0.0.1:$PORT_A
B=http://127.0.0.1:$PORT_B
TOKEN=$(curl -fsS "$A/api/v1/auth/login" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | jq -r .access_token)
api() { curl -fsS -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" "$A$@"; }
PLATFORM=$(api /api/v1/admin/api-keys -d '{"name":"bench caller","key_type":"platform","scopes":["keys:verify"]}' | jq -r .key)
USER_ID=$(api /api/v1/admin/users -d '{"email":"end.user@scaleout.local"}' | jq -r .id)
KEY=$(api /api/v1/admin/api-keys -d "{\"name\":\"bench user key\",\"key_type\":\"user\",\"user_id\":\"$USER_ID\",\"allowed_ips\":[\"10.0.0.0/8\"]}" | jq -r .key)
tenant() { # name → id, granted $GRANT credits
	local id
	id=$(api /api/v1/admin/tenants -d "{\"name\":\"$1\"}" | jq -r .id)
	api /api/v1/admin/credits/grant -d "{\"tenant_id\":\"$id\",\"amount\":$GRANT,\"description\":\"bench grant\"}" >/dev/null
	echo "$id"
}
TENANT=$(tenant Bench)
MANY=()
for i in $(seq "$TENANTS"); do MANY+=("$(tenant "Bench $i")"); done

# Each replica must answer each target before anything is measured.
VERIFY_BODY="{\"key\":\"$KEY\",\"ip\":\"10.1.2.3\",\"scope\":\"read\"}"
DEDUCT_BODY="{\"tenant_id\":\"$TENANT\",\"amount\":1,\"description\":\"bench\"}"
for base in "$A" "$B"; do
	code=$(curl -fsS "$base/api/v1/platform/keys/verify" -H "Authorization: Bearer $PLATFORM" -d "$VERIFY_BODY" | jq -r .code)
	[ "$code" = VALID ] || { echo "verification on $base answered $code, not VALID" >&2; exit 1; }
	curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$base/api/v1/admin/users/$USER_ID"
	code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" \
		"$base/api/v1/admin/credits/deduct" -d "$DEDUCT_BODY")
	[ "$code" = 201 ] || { echo "a deduct on $base answered $code, not 201" >&2; exit 1; }
done

cat >"$OUT/verify.lua" <<LUA
wrk.method = "POST"
wrk.body = '$VERIFY_BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $PLATFORM"
LUA
cat >"$OUT/deduct.lua" <<LUA
wrk.method = "POST"
wrk.body = '$DEDUCT_BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
# Each thread starts at another tenant and takes the next one per request
# (OFFSET keeps the two wrk runs of two replicas apart too).
cat >"$OUT/many.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local all = { $(printf '"%s", ' "${MANY[@]}") }
-- HALF=a or b keeps the first or the second half of the tenants (the
-- two-replica run of deduct-x$TENANTS-split: each replica its own tenants).
local ids, half = {}, os.getenv("HALF") or ""
for i, id in ipairs(all) do
	if half == "" or (half == "a") == (i <= #all / 2) then ids[#ids + 1] = id end
end
local threads = 0
local offset = tonumber(os.getenv("OFFSET") or "0")
function setup(thread)
	thread:set("cursor", offset + threads * 7)
	threads = threads + 1
end
function request()
	cursor = cursor + 1
	return wrk.format(nil, nil, nil,
		'{"tenant_id":"' .. ids[cursor % #ids + 1] .. '","amount":1,"description":"bench"}')
end
LUA

# wrk_target NAME BASE → the wrk arguments of a target on one replica.
wrk_target() {
	case $1 in
	verify) echo "-s $OUT/verify.lua $2/api/v1/platform/keys/verify" ;;
	get-user) echo "-H Authorization:\ Bearer\ $TOKEN $2/api/v1/admin/users/$USER_ID" ;;
	deduct) echo "-s $OUT/deduct.lua $2/api/v1/admin/credits/deduct" ;;
	deduct-x$TENANTS | deduct-x$TENANTS-split) echo "-s $OUT/many.lua $2/api/v1/admin/credits/deduct" ;;
	esac
}
run_wrk() { # file threads conns url/args…
	local file=$1 t=$2 c=$3
	shift 3
	env OFFSET="${OFFSET:-0}" HALF="${HALF:-}" wrk -t"$t" -c"$c" -d"$DURATION" --latency "$@" >"$file"
}
run_hello() { run_wrk "$OUT/$1.wrk" "$THREADS" "$CONNS" "http://127.0.0.1:$HELLO_PORT/"; }

# The audit lag, polled in the background during a deduct run: one line
# per poll, "pending oldest_age_seconds" (- when not exported).
LAG_SOURCE=
# (grep reads all of it: with -q it could stop first, and curl's broken pipe
# would fail the test under pipefail.)
if curl -fsS -H "Authorization: Bearer $TOKEN" "$A/metrics" | grep '^steward_audit_pending' >/dev/null; then
	LAG_SOURCE=metrics
elif api /api/v1/admin/audit-log/verify | jq -e 'has("pending")' >/dev/null; then
	LAG_SOURCE=verify
fi
# Both replicas are asked (the sequencer may run on either); the max is kept.
poll_lag() { # file
	while :; do
		for base in "$A" "$B"; do
			case $LAG_SOURCE in
			metrics)
				curl -fsS -H "Authorization: Bearer $TOKEN" "$base/metrics" |
					awk '/^steward_audit_pending[ {]/ {p = $NF} /^steward_audit_pending_oldest_seconds[ {]/ {a = $NF}
						END {printf "%s %s\n", (p == "" ? "-" : p), (a == "" ? "-" : a)}' >>"$1" || true
				;;
			verify)
				curl -fsS -H "Authorization: Bearer $TOKEN" "$base/api/v1/admin/audit-log/verify" |
					jq -r '"\(.pending) -"' >>"$1" || true
				;;
			esac
		done
		sleep "$LAG_EVERY"
	done
}

# measure TARGET REPLICAS: one run of TARGET over 1 or 2 replicas.
measure() {
	local target=$1 n=$2 lag_pid=
	if [ -n "$LAG_SOURCE" ] && [[ $target == deduct* ]]; then
		poll_lag "$OUT/$target-$n.lag" &
		lag_pid=$!
	fi
	if [ "$n" = 1 ]; then
		# shellcheck disable=SC2046 # the target's words are wrk arguments
		eval run_wrk "$OUT/$target-1.wrk" "$THREADS" "$CONNS" $(wrk_target "$target" "$A")
	else
		# shellcheck disable=SC2046
		local ha= hb=
		[[ $target == *-split ]] && ha=a hb=b
		(OFFSET=0 HALF=$ha && eval run_wrk "$OUT/$target-2a.wrk" $((THREADS / 2)) $((CONNS / 2)) $(wrk_target "$target" "$A")) &
		local wa=$!
		# shellcheck disable=SC2046
		(OFFSET=32 HALF=$hb && eval run_wrk "$OUT/$target-2b.wrk" $((THREADS / 2)) $((CONNS / 2)) $(wrk_target "$target" "$B"))
		wait "$wa"
	fi
	if [ -n "$lag_pid" ]; then kill "$lag_pid" 2>/dev/null || true; wait "$lag_pid" 2>/dev/null || true; fi
}

# shellcheck disable=SC2206 # TARGETS is a list of words
TARGETS=(${TARGETS:-verify get-user deduct "deduct-x$TENANTS"})
run_hello hello-1
for t in "${TARGETS[@]}"; do measure "$t" 1; done
run_hello hello-2
for t in "${TARGETS[@]}"; do measure "$t" 2; done
run_hello hello-3

# to_ms VALUE: wrk's "1.23ms", "850.00us" or "1.02s" in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
		else printf "?" }'
}
rps() { awk '/^Requests\/sec/ {print $2}' "$OUT/$1.wrk"; }
pct() { to_ms "$(awk -v p="$2%" '$1 == p {print $2}' "$OUT/$1.wrk")"; }
errs() { awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$OUT/$1.wrk"; }
max() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b ? a : b)}'; }
lag() { # file → "max pending, max oldest age"
	[ -s "$1" ] || { echo "n/a"; return; }
	awk '$1 != "-" && $1 != "null" && $1 + 0 > p {p = $1 + 0} $2 != "-" && $2 + 0 > a {a = $2 + 0; seen = 1}
		END {printf "%d pending%s", p, (seen ? sprintf(", oldest %.3f s", a) : "")}' "$1"
}

H1=$(rps hello-1) H2=$(rps hello-2) H3=$(rps hello-3)
hello_one=$(awk -v a="$H1" -v b="$H2" 'BEGIN {printf "%.0f", (a + b) / 2}')
hello_two=$(awk -v a="$H2" -v b="$H3" 'BEGIN {printf "%.0f", (a + b) / 2}')

failed=0
{
	printf 'scale-out on PostgreSQL: fsync=%s, synchronous_commit=%s; wrk -t%s -c%s -d%s (two replicas: two wrk -t%s -c%s at once)\n' \
		"$FSYNC" "$SYNC" "$THREADS" "$CONNS" "$DURATION" $((THREADS / 2)) $((CONNS / 2))
	printf 'commit %s%s; %s cores, %s; load before %s\n' "$(git rev-parse --short HEAD)" \
		"$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')" "$(nproc)" \
		"$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'hello: %s, %s and %s req/s (the one-replica ratios are to the mean of the first two, the two-replica ones to the last two)\n' "$H1" "$H2" "$H3"
	printf '%-12s %8s %10s %9s %9s %8s %10s %7s  %s\n' target replicas req/s "p50 ms" "p99 ms" "x hello" efficiency errors "audit lag (max seen)"
	for t in "${TARGETS[@]}"; do
		one=$(rps "$t-1")
		e=$(errs "$t-1")
		printf '%-12s %8s %10.0f %9s %9s %8.3f %10s %7s  %s\n' "$t" 1 "$one" "$(pct "$t-1" 50)" "$(pct "$t-1" 99)" \
			"$(awk -v a="$one" -v b="$hello_one" 'BEGIN {print a / b}')" - "$e" \
			"$([[ $t == deduct* ]] && lag "$OUT/$t-1.lag" || echo)"
		[ "$e" = 0 ] || failed=1
		a=$(rps "$t-2a") b=$(rps "$t-2b")
		two=$(awk -v a="$a" -v b="$b" 'BEGIN {print a + b}')
		e=$(($(errs "$t-2a") + $(errs "$t-2b")))
		printf '%-12s %8s %10.0f %9s %9s %8.3f %10.2f %7s  %s\n' "$t" 2 "$two" \
			"$(max "$(pct "$t-2a" 50)" "$(pct "$t-2b" 50)")" "$(max "$(pct "$t-2a" 99)" "$(pct "$t-2b" 99)")" \
			"$(awk -v a="$two" -v b="$hello_two" 'BEGIN {print a / b}')" \
			"$(awk -v a="$two" -v b="$one" 'BEGIN {print a / (2 * b)}')" "$e" \
			"$([[ $t == deduct* ]] && lag "$OUT/$t-2.lag" || echo)"
		[ "$e" = 0 ] || failed=1
	done
	if [ -z "$LAG_SOURCE" ]; then
		echo "audit lag: n/a, this build has no audit sequencer (no steward_audit_pending metric, no pending in verify): every entry is sealed in its writing transaction"
	else
		echo "audit lag: polled every ${LAG_EVERY}s from $LAG_SOURCE on both replicas during each deduct run (the max seen)"
	fi
} | tee "$OUT/summary.txt"

doctor_rc=0
doctor=$("${steward[@]}" doctor 2>&1) || doctor_rc=$?
printf 'steward doctor (exit %s):\n%s\n' "$doctor_rc" "$doctor" | tee -a "$OUT/summary.txt"
if [ "$failed" != 0 ]; then
	echo "some runs had non-2xx answers or socket errors; see $OUT/*.wrk" >&2
fi
[ "$failed" = 0 ] && [ "$doctor_rc" = 0 ]
