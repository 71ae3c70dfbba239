# bench/lib.sh — what the single-endpoint wrk scenarios share (verify.sh,
# features.sh): build steward and bench/hello, start both on 127.0.0.1 on a
# fresh database, sign in as the bootstrap operator, run bounded wrk runs and
# print each target beside the mean of the hello runs. Sourced, not run.
#
# The caller sets BENCH_NAME (the database, log and result names) and may
# set STEWARD_PORT, HELLO_PORT, DURATION, THREADS, CONNS, BENCH_DIR,
# PG_ADMIN_URL and BENCH_ENV (an array of NAME=value for steward serve);
# the first argument of the script picks the backend.

BACKEND=${1:-sqlite}
BENCH_DIR=${BENCH_DIR:-/tmp/steward-bench}
PORT=${STEWARD_PORT:?}
HELLO_PORT=${HELLO_PORT:?}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable}
EMAIL=bench@$BENCH_NAME.local
PASSWORD=bench-password-1

# bench_start builds, prepares the database, starts both servers, waits for
# them and signs in: api PATH [curl args…] then calls the admin API.
bench_start() {
	mkdir -p "$BENCH_DIR/bin"
	go build -o "$BENCH_DIR/bin/steward" ./cmd/steward
	go build -o "$BENCH_DIR/bin/hello" ./bench/hello
	case $BACKEND in
	sqlite)
		rm -f "$BENCH_DIR/$BENCH_NAME".db*
		DB="sqlite:$BENCH_DIR/$BENCH_NAME.db"
		;;
	postgres)
		psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $BENCH_NAME" -c "CREATE DATABASE $BENCH_NAME"
		DB=${PG_ADMIN_URL/\/postgres\?/\/$BENCH_NAME\?}
		;;
	*)
		echo "usage: $0 [sqlite|postgres]" >&2
		exit 2
		;;
	esac
	pids=()
	trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
	env ${BENCH_ENV[@]+"${BENCH_ENV[@]}"} STEWARD_DB=$DB STEWARD_ADDR=127.0.0.1:$PORT STEWARD_BOOTSTRAP_EMAIL=$EMAIL STEWARD_BOOTSTRAP_PASSWORD=$PASSWORD \
		STEWARD_LOG_LEVEL=warn "$BENCH_DIR/bin/steward" serve >"$BENCH_DIR/$BENCH_NAME-$BACKEND.log" 2>&1 &
	pids+=($!)
	"$BENCH_DIR/bin/hello" -addr "127.0.0.1:$HELLO_PORT" >/dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && curl -fs "http://127.0.0.1:$HELLO_PORT/" >/dev/null && break
		sleep 0.1
	done
	TOKEN=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/auth/login" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | jq -r .access_token)
}

api() { curl -fsS -H "Content-Type: application/json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$@"; }

# bench_run NAME wrk-args… runs one bounded wrk run into its result file.
bench_run() {
	local name=$1
	shift
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" >"$BENCH_DIR/$BENCH_NAME-$BACKEND-$name.wrk"
}

# bench_hello_around TARGET wrk-args… runs hello, the target, hello again,
# and prints req/s, p50, p99 and the ratio to the mean hello.
bench_hello_around() {
	local target=$1
	shift
	bench_run hello1 "http://127.0.0.1:$HELLO_PORT/"
	bench_run "$target" "$@"
	bench_run hello2 "http://127.0.0.1:$HELLO_PORT/"
	local h1 h2 t hello
	h1=$(bench_rps hello1) h2=$(bench_rps hello2) t=$(bench_rps "$target")
	hello=$(awk -v a="$h1" -v b="$h2" 'BEGIN {printf "%.0f", (a + b) / 2}')
	printf '\n%s, wrk -t%s -c%s -d%s\n' "$BACKEND" "$THREADS" "$CONNS" "$DURATION"
	printf '%-8s %12s %10s %10s %8s\n' target req/s p50 p99 ratio
	printf '%-8s %12s %10s %10s %8s\n' hello "$hello" "$(bench_pct hello1 50)" "$(bench_pct hello1 99)" 1.00
	printf '%-8s %12s %10s %10s %8s\n' "$target" "$t" "$(bench_pct "$target" 50)" "$(bench_pct "$target" 99)" \
		"$(awk -v a="$t" -v b="$hello" 'BEGIN {printf "%.2f", a / b}')"
	printf 'hello runs: %s and %s req/s\n' "$h1" "$h2"
	awk '/Non-2xx|Socket errors/ {print}' "$BENCH_DIR/$BENCH_NAME-$BACKEND-$target.wrk" || true
}

bench_rps() { awk '/^Requests\/sec/ {print $2}' "$BENCH_DIR/$BENCH_NAME-$BACKEND-$1.wrk"; }
bench_pct() { awk -v p="$2%" '$1 == p {print $2}' "$BENCH_DIR/$BENCH_NAME-$BACKEND-$1.wrk"; }
