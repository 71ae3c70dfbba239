#!/usr/bin/env bash
# bench/overview.sh — wrk scenario for the overview endpoints on a database
# seeded by bench/overview (1,000,000 users, 2,000 tenants, a year of
# activity), against a plain net/http "hello" server in the same run.
#
#   bench/overview.sh sqlite:/tmp/steward-bench/overview-1m.db
#   bench/overview.sh 'postgres://postgres@127.0.0.1:55432/steward_bench_1m?sslmode=disable'
#
# It does not seed: run `go run ./bench/overview -db …` first. For each URL
# (URLS, space-separated admin GET paths) it runs wrk twice: one connection
# (latency: p50, p99) and $CONNS connections (throughput), then hello the
# same way, and prints req/s and latency with req/s as a fraction of
# hello's. Raw wrk output stays in $BENCH_DIR. `steward serve` runs with
# the admin rate limit off; the servers it started are stopped on exit.
#
# Environment (defaults in brackets):
#   BENCH_DIR     [/tmp/steward-bench]
#   URLS          [the api-keys stats, first users and tenants pages, a q search]
#   ADMIN_EMAIL   [admin@bench.local]   ADMIN_PASSWORD [bench-password-1]
#   STEWARD_PORT  [18090]  HELLO_PORT [18089]
#   DURATION      [10s]    CONNS [64]  THREADS [2]
set -euo pipefail

cd "$(dirname "$0")/.."
DSN=${1:?usage: $0 sqlite:<path> | postgres://…}
BENCH_DIR=${BENCH_DIR:-/tmp/steward-bench}
URLS=${URLS:-/api/v1/admin/api-keys/stats /api/v1/admin/users?limit=50 /api/v1/admin/tenants?limit=50 /api/v1/admin/users?q=lovelace&limit=50}
ADMIN_EMAIL=${ADMIN_EMAIL:-admin@bench.local}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-password-1}
STEWARD_PORT=${STEWARD_PORT:-18090}
HELLO_PORT=${HELLO_PORT:-18089}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
STEWARD=http://127.0.0.1:$STEWARD_PORT
HELLO=http://127.0.0.1:$HELLO_PORT
BIN=$BENCH_DIR/bin
mkdir -p "$BIN"

for tool in wrk curl jq go; do
	command -v "$tool" >/dev/null || {
		echo "$tool is required (apt-get install -y wrk curl jq)" >&2
		exit 1
	}
done

PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_ready() {
	for _ in $(seq 1 120); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.5
	done
	echo "timed out waiting for $1" >&2
	return 1
}

to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "?" }'
}

go build -o "$BIN/steward" ./cmd/steward
go build -o "$BIN/hello" ./bench/hello

"$BIN/hello" -addr "127.0.0.1:$HELLO_PORT" 2>"$BENCH_DIR/hello.log" &
PIDS+=($!)
STEWARD_DB=$DSN STEWARD_ADDR=127.0.0.1:$STEWARD_PORT STEWARD_LOG_LEVEL=warn STEWARD_ADMIN_RATE_LIMIT=0 \
	STEWARD_BOOTSTRAP_EMAIL=$ADMIN_EMAIL STEWARD_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD \
	"$BIN/steward" serve 2>"$BENCH_DIR/steward-overview.log" &
PIDS+=($!)
wait_ready "$HELLO/"
wait_ready "$STEWARD/readyz"

token=$(curl -fsS "$STEWARD/api/v1/auth/login" -H 'Content-Type: application/json' \
	-d "$(jq -nc --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASSWORD" '{email: $e, password: $p}')" | jq -r .access_token)
[ -n "$token" ] && [ "$token" != null ] || {
	echo "login as $ADMIN_EMAIL failed" >&2
	exit 1
}

# run NAME CONNS URL [wrk args…]: one wrk run, one result line.
run() {
	local name=$1 c=$2 url=$3 t=$THREADS
	shift 3
	[ "$c" -lt "$t" ] && t=$c
	local out=$BENCH_DIR/overview-$name-c$c.wrk
	wrk -t"$t" -c"$c" -d"$DURATION" --latency "$@" "$url" >"$out"
	local errs
	errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} END {print n + 0}' "$out")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$(awk '/^Requests\/sec:/ {print $2}' "$out")" \
		"$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")" "$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")" "$errs"
}

RESULTS=$BENCH_DIR/overview-results.tsv
: >"$RESULTS"
run hello 1 "$HELLO/" >>"$RESULTS"
run hello "$CONNS" "$HELLO/" >>"$RESULTS"
for url in $URLS; do
	if ! curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$STEWARD$url"; then
		echo "GET $url does not answer 200" >&2
		exit 1
	fi
	name=$(printf '%s' "${url#/api/v1/admin/}" | tr '/?&=' '.___')
	run "$name" 1 "$STEWARD$url" -H "Authorization: Bearer $token" >>"$RESULTS"
	run "$name" "$CONNS" "$STEWARD$url" -H "Authorization: Bearer $token" >>"$RESULTS"
done

echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F'\t' '
	$1 == "hello" { hello[$2] = $3 }
	{ rows[NR] = $0 }
	END {
		printf "%-40s %5s %10s %9s %9s %8s %6s\n", "run", "conns", "req/s", "p50 ms", "p99 ms", "x hello", "non2xx"
		for (i = 1; i <= NR; i++) {
			split(rows[i], f, "\t")
			printf "%-40s %5s %10.0f %9.3f %9.3f %8.3f %6d\n", f[1], f[2], f[3], f[4], f[5], f[3] / hello[f[2]], f[6]
		}
	}' "$RESULTS"
