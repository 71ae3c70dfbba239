#!/usr/bin/env bash
# bench/run.sh — HTTP read benchmark of Steward with 1,000,000 users, against a
# plain net/http "hello" server measured in the same run.
#
#   bench/run.sh              # SQLite only
#   bench/run.sh postgres     # PostgreSQL only
#   bench/run.sh all          # both, SQLite first
#
# What it does, for each backend:
#   1. builds steward, bench/hello and bench/seed into $BENCH_DIR/bin;
#   2. seeds $USERS users unless the database holds them already (SQLite: the
#      file exists; PostgreSQL: the users table has rows; either way it then
#      checks there are at least $USERS users), plus the
#      super_admin $ADMIN_EMAIL / $ADMIN_PASSWORD (see bench/seed); on
#      PostgreSQL it then runs VACUUM (ANALYZE) users, as autovacuum would;
#   3. starts `steward serve` on it and the hello server, both on 127.0.0.1;
#   4. logs in (POST /api/v1/auth/login) for an access token, which lives 15
#      minutes, much longer than a run;
#   5. picks the targets: a seeded user's id (GET ?limit=2, the row after the
#      operator), and the cursor of the page at offset 500,000 in newest-first
#      order: base64url (no padding) of the 500,000th id from
#        SELECT id FROM users ORDER BY id DESC LIMIT 1 OFFSET 499999
#      (read from the database with the sqlite3 CLI or psql). It checks that
#      the API's page starts at the 500,001st id, so the cursor is exact;
#   6. runs wrk: throughput with -t2 -c64 -d$DURATION --latency against hello
#      (before and after the Steward runs), GET one user, the first list page
#      and the deep page; then single-connection latency (-t1 -c1
#      -d$LAT_DURATION) of the first page, the deep page and two `q` searches
#      (one user's email local part, and a common surname);
#   7. prints a table: req/s, p50, p99, and req/s as a fraction of hello's
#      (the mean of the two hello runs). Raw wrk output stays in
#      $BENCH_DIR/<backend>-<name>.wrk.
#
# Bounds: every wrk run is $DURATION (default 10s) or $LAT_DURATION (5s);
# every target is 127.0.0.1; waits for start-up are capped; the servers it
# started are stopped on exit (by pid). wrk shares the cores with the servers.
#
# Environment (defaults in brackets):
#   BENCH_DIR     [/tmp/steward-bench]  binaries, databases, logs, wrk output
#   USERS         [1000000]
#   SQLITE_DB     [$BENCH_DIR/users-1m.db]
#   PG_URL        [postgres://postgres@127.0.0.1:55432/bench?sslmode=disable]
#   PG_ADMIN_URL  [the same server, database postgres]: where CREATE DATABASE runs
#   ADMIN_EMAIL   [admin@bench.local]   ADMIN_PASSWORD [bench-password-1]
#   STEWARD_PORT  [18080]  HELLO_PORT [18079]
#   DURATION      [10s]    LAT_DURATION [5s]  CONNS [64]  THREADS [2]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

BACKENDS=${1:-sqlite}
case $BACKENDS in
sqlite | postgres) ;;
all) BACKENDS="sqlite postgres" ;;
*)
	echo "usage: $0 [sqlite|postgres|all]" >&2
	exit 2
	;;
esac

BENCH_DIR=${BENCH_DIR:-/tmp/steward-bench}
USERS=${USERS:-1000000}
SQLITE_DB=${SQLITE_DB:-$BENCH_DIR/users-1m.db}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:55432/bench?sslmode=disable}
PG_ADMIN_URL=${PG_ADMIN_URL:-${PG_URL/\/bench\?//postgres?}}
ADMIN_EMAIL=${ADMIN_EMAIL:-admin@bench.local}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-password-1}
STEWARD_PORT=${STEWARD_PORT:-18080}
HELLO_PORT=${HELLO_PORT:-18079}
DURATION=${DURATION:-10s}
LAT_DURATION=${LAT_DURATION:-5s}
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

log() { printf '\n== %s\n' "$*" >&2; }

PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

# wait_ready URL: poll for up to 60 s.
wait_ready() {
	for _ in $(seq 1 120); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.5
	done
	echo "timed out waiting for $1" >&2
	return 1
}

# stop PID: stop one server this script started.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

log "building into $BIN ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ', with uncommitted changes'))"
go build -o "$BIN/steward" ./cmd/steward
go build -o "$BIN/hello" ./bench/hello
go build -o "$BIN/seed" ./bench/seed

"$BIN/hello" -addr "127.0.0.1:$HELLO_PORT" 2>"$BENCH_DIR/hello.log" &
PIDS+=($!)
wait_ready "$HELLO/"

# to_ms VALUE: wrk's "1.23ms", "850.00us" or "1.02s" in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "?" }'
}

# bench BACKEND NAME THREADS CONNS DURATION URL [wrk args…]: one wrk run;
# appends "name rps p50ms p99ms errors" to $RESULTS.
bench() {
	local backend=$1 name=$2 t=$3 c=$4 d=$5 url=$6
	shift 6
	local out=$BENCH_DIR/$backend-$name.wrk
	echo "-- $name: wrk -t$t -c$c -d$d --latency $url" >&2
	wrk -t"$t" -c"$c" -d"$d" --latency "$@" "$url" >"$out"
	local rps p50 p99 errs
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" "$p50" "$p99" "$errs" >>"$RESULTS"
	printf '   %s req/s, p50 %s ms, p99 %s ms, errors %s\n' "$rps" "$p50" "$p99" "$errs" >&2
}

# sql BACKEND QUERY: one value from the benchmark database.
sql() {
	case $1 in
	sqlite) sqlite3 -readonly "$SQLITE_DB" "$2" ;;
	postgres) psql "$PG_URL" -XtAqc "$2" ;;
	esac
}

b64url() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }

seed() {
	local backend=$1 dsn=$2
	log "seeding $USERS users into $backend"
	STEWARD_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD "$BIN/seed" -db "$dsn" -users "$USERS" \
		-admin-email "$ADMIN_EMAIL" | tee "$BENCH_DIR/seed-$backend.log" >&2
}

# check_seeded BACKEND: refuse a database with fewer users than $USERS, such
# as one left by an interrupted seed (which creates the operator last).
check_seeded() {
	local have
	have=$(sql "$1" "SELECT count(*) FROM users")
	if [ "$have" -lt "$USERS" ]; then
		echo "the $1 database holds $have users, want $USERS: delete it and run again" >&2
		exit 1
	fi
}

run_backend() {
	local backend=$1 dsn
	case $backend in
	sqlite)
		command -v sqlite3 >/dev/null || {
			echo "sqlite3 is required (apt-get install -y sqlite3)" >&2
			exit 1
		}
		dsn=sqlite:$SQLITE_DB
		if [ -f "$SQLITE_DB" ]; then
			log "using the existing $SQLITE_DB (delete it to seed afresh)"
			check_seeded sqlite
		else
			seed sqlite "$dsn"
		fi
		;;
	postgres)
		command -v psql >/dev/null || {
			echo "psql is required (apt-get install -y postgresql-client)" >&2
			exit 1
		}
		dsn=$PG_URL
		local dbname=${PG_URL##*/}
		dbname=${dbname%%\?*}
		if [ "$(psql "$PG_ADMIN_URL" -XtAqc "SELECT count(*) FROM pg_database WHERE datname = '$dbname'")" = 0 ]; then
			psql "$PG_ADMIN_URL" -Xqc "CREATE DATABASE \"$dbname\""
		fi
		local have
		have=$(psql "$PG_URL" -XtAqc "SELECT count(*) FROM users WHERE role = 'user'" 2>/dev/null || echo 0)
		if [ "$have" -gt 0 ]; then
			log "using the existing users in $dbname (DROP DATABASE $dbname to seed afresh)"
			check_seeded postgres
		else
			seed postgres "$dsn"
		fi
		# What autovacuum would do a minute after a bulk load: planner
		# statistics, and the visibility map that index-only scans need.
		psql "$PG_URL" -Xqc "VACUUM (ANALYZE) users"
		;;
	esac

	log "starting steward on $backend"
	STEWARD_DB=$dsn STEWARD_ADDR=127.0.0.1:$STEWARD_PORT STEWARD_LOG_LEVEL=warn STEWARD_ADMIN_RATE_LIMIT=0 \
		STEWARD_BOOTSTRAP_EMAIL=$ADMIN_EMAIL STEWARD_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD \
		"$BIN/steward" serve 2>"$BENCH_DIR/steward-$backend.log" &
	local spid=$!
	PIDS+=("$spid")
	wait_ready "$STEWARD/readyz"

	local token
	token=$(curl -fsS "$STEWARD/api/v1/auth/login" -H 'Content-Type: application/json' \
		-d "$(jq -nc --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASSWORD" '{email: $e, password: $p}')" |
		jq -r .access_token)
	[ -n "$token" ] && [ "$token" != null ] || {
		echo "login failed" >&2
		exit 1
	}
	local auth="Authorization: Bearer $token"
	get() { curl -fsS -H "$auth" "$STEWARD$1"; }

	local total uid deep deep_next cursor first email common
	total=$(sql "$backend" "SELECT count(*) FROM users")
	uid=$(get "/api/v1/admin/users?limit=2" | jq -r '.data[1].id')
	deep=$(sql "$backend" "SELECT id FROM users ORDER BY id DESC LIMIT 1 OFFSET 499999")
	deep_next=$(sql "$backend" "SELECT id FROM users ORDER BY id DESC LIMIT 1 OFFSET 500000")
	cursor=$(b64url "$deep")
	first=$(get "/api/v1/admin/users?limit=50&cursor=$cursor" | jq -r '.data[0].id')
	if [ "$first" != "$deep_next" ]; then
		echo "deep page starts at $first, want $deep_next (the 500,001st id)" >&2
		exit 1
	fi
	# A rare term: one seeded user's email local part; a common one: a surname.
	email=$(sql "$backend" "SELECT email FROM users ORDER BY id DESC LIMIT 1 OFFSET 250000")
	local rare=${email%%@*}
	common=lovelace
	local rare_hits common_hits
	rare_hits=$(get "/api/v1/admin/users?q=$(jq -rn --arg q "$rare" '$q|@uri')&limit=50" | jq '.data | length')
	common_hits=$(get "/api/v1/admin/users?q=$common&limit=50" | jq '.data | length')

	{
		echo "backend:        $backend ($total users)"
		echo "user by id:     $uid"
		echo "deep cursor:    $cursor (= base64url of $deep, the 500,000th id; the page starts at $deep_next)"
		echo "q rare:         '$rare' ($rare_hits rows on the page)"
		echo "q common:       '$common' ($common_hits rows on the page)"
	} | tee "$BENCH_DIR/$backend-targets.txt" >&2

	RESULTS=$BENCH_DIR/$backend-results.tsv
	: >"$RESULTS"
	local T=$THREADS C=$CONNS D=$DURATION L=$LAT_DURATION
	bench "$backend" hello-before "$T" "$C" "$D" "$HELLO/"
	bench "$backend" get-user "$T" "$C" "$D" "$STEWARD/api/v1/admin/users/$uid" -H "$auth"
	bench "$backend" list-first "$T" "$C" "$D" "$STEWARD/api/v1/admin/users?limit=50" -H "$auth"
	bench "$backend" list-deep "$T" "$C" "$D" "$STEWARD/api/v1/admin/users?limit=50&cursor=$cursor" -H "$auth"
	bench "$backend" hello-after "$T" "$C" "$D" "$HELLO/"
	bench "$backend" lat-first 1 1 "$L" "$STEWARD/api/v1/admin/users?limit=50" -H "$auth"
	bench "$backend" lat-deep 1 1 "$L" "$STEWARD/api/v1/admin/users?limit=50&cursor=$cursor" -H "$auth"
	bench "$backend" lat-q-rare 1 1 "$L" "$STEWARD/api/v1/admin/users?q=$(jq -rn --arg q "$rare" '$q|@uri')&limit=50" -H "$auth"
	bench "$backend" lat-q-common 1 1 "$L" "$STEWARD/api/v1/admin/users?q=$common&limit=50" -H "$auth"

	stop "$spid"
	summary "$backend" "$RESULTS" | tee "$BENCH_DIR/$backend-summary.txt"
}

# summary BACKEND RESULTS: the table, with req/s relative to hello.
summary() {
	awk -F'\t' -v backend="$1" -v conns="$CONNS" '
		{ name[NR] = $1; rps[NR] = $2; p50[NR] = $3; p99[NR] = $4; err[NR] = $5; row[$1] = NR }
		END {
			hb = rps[row["hello-before"]]; ha = rps[row["hello-after"]]; base = (hb + ha) / 2
			printf "\n%s: hello baseline %.0f req/s (%.0f before, %.0f after)\n", backend, base, hb, ha
			printf "%-14s %10s %9s %9s %9s %7s\n", "run", "req/s", "p50 ms", "p99 ms", "x hello", "errors"
			for (i = 1; i <= NR; i++)
				printf "%-14s %10.0f %9.3f %9.3f %9.3f %7d\n", name[i], rps[i], p50[i], p99[i], rps[i] / base, err[i]
			f = p50[row["lat-first"]]; d = p50[row["lat-deep"]]
			if (f > 0) printf "deep page / first page (p50, one connection): %.2f\n", d / f
			f = p50[row["list-first"]]; d = p50[row["list-deep"]]
			if (f > 0) printf "deep page / first page (p50, %s connections): %.2f\n", conns, d / f
		}' "$2"
}

echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for b in $BACKENDS; do
	run_backend "$b"
done
