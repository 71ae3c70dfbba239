package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/bench/internal/sqlitefts"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/postgres"
	"github.com/stewardhq/steward/store/sqlite"
)

const (
	day        = int64(24 * time.Hour / time.Microsecond)
	sessionTTL = 30 * day // service.Config.SessionTTL's default
)

// sizes are what to seed.
type sizes struct {
	Users          int // users, of which one in 10,000 an operator
	Tenants        int // tenants; a multiple of 10 (the plan mix repeats every 10)
	Keys           int // API keys
	SessionsPerDay int // logins per day
	EventsPerDay   int // usage events per tenant per day
	Days           int // days of activity, ending today
	Chunk          int // rows per transaction for the large tables
}

func (z sizes) validate() error {
	switch {
	case z.Users < 1 || z.Tenants < 10 || z.Tenants%10 != 0:
		return errors.New("-users must be >= 1 and -tenants a multiple of 10")
	case z.Keys < 0 || z.SessionsPerDay < 0 || z.EventsPerDay < 0:
		return errors.New("-keys, -sessions-per-day and -events-per-day must be >= 0")
	case z.Days < 1 || z.Days > 2500 || z.Chunk < 1:
		// Ledger ids number a tenant's months in two digits.
		return errors.New("-days must be 1–2500 and -chunk >= 1")
	}
	return nil
}

// The tenants' plans repeat every 10 tenants, weighted like a real
// catalogue (many free, few on the largest plan); members go mostly to the
// larger plans (see userTenant). The ids and included credits are
// steward.DefaultPlans'.
var (
	planOf   = []string{"free", "free", "free", "free", "starter", "starter", "starter", "pro", "pro", "scale"}
	included = map[string]int64{}
)

func init() {
	for _, p := range steward.DefaultPlans() {
		included[p.ID] = p.IncludedCredits
	}
}

var (
	firstNames = strings.Fields(`Ada Grace Alan Linus Ken Dennis Barbara Margaret Edsger Donald
		Frances Radia Hedy Katherine Dorothy Mary John Tim Vint Bob Leslie Niklaus Tony Guido
		Rob Russ Brian Bjarne James Anders Yukihiro Larry Rasmus Brendan Sophie Jean Annie
		Karen Evelyn Joan Lynn Sara Priya Wei Mei Hiro Amara Tunde Chidi Lucia Mateo Ines`)
	lastNames = strings.Fields(`Lovelace Hopper Turing Torvalds Thompson Ritchie Liskov Hamilton
		Dijkstra Knuth Allen Perlman Lamarr Johnson Vaughan Jackson Backus Lee Cerf Kahn
		Lamport Wirth Hoare Rossum Pike Cox Kernighan Stroustrup Gosling Hejlsberg Matsumoto
		Chen Wang Garcia Martinez Rossi Silva Kowalski Novak Ivanova Haddad Khan Patel Singh`)
	domains    = strings.Fields(`gmail.com outlook.com yahoo.com proton.me icloud.com fastmail.com example.com mail.de`)
	words      = strings.Fields(`Acme Globex Initech Umbrella Hooli Stark Wayne Wonka Tyrell Cyberdyne Aperture Soylent`)
	agents     = []string{"Mozilla/5.0 (Macintosh)", "Mozilla/5.0 (Windows NT 10.0)", "Mozilla/5.0 (iPhone)", "okhttp/4.12", "curl/8.5"}
	metrics    = []string{"tokens", "requests", "images", "storage_mb"}
	models     = []string{"gpt-4o", "claude-sonnet", "llama-3-70b", "mistral-large", ""}
	tagSets    = [][]string{{}, {}, {}, {"vip"}, {"beta"}, {"beta", "newsletter"}, {"enterprise"}, {"trial", "churn-risk"}}
	metaSets   = []string{`{}`, `{}`, `{"plan":"pro","signup_source":"web"}`, `{"signup_source":"ios"}`, `{"plan":"free","signup_source":"referral"}`}
	userScopes = []string{}
	adminScope = []string{"users:read", "stats:read"}
	platScope  = []string{"users:read", "users:write", "credits:write"}
)

// seeder writes one database. Every statement runs on conn, one pinned
// connection, because the seed keeps its working sets in temporary tables,
// which belong to a connection.
type seeder struct {
	d     dialect
	z     sizes
	conn  *sql.Conn
	out   io.Writer
	hash  string // the password hash every seeded user with a password shares
	now   int64  // unix µs
	start int64  // midnight UTC starting the first day
	today int64  // midnight UTC starting today
	// months are the calendar months the window touches, oldest first:
	// [start, end) in µs. The tenants' billing periods are these months.
	months [][2]int64
	part   string // the part step is running, for chunked's progress lines
}

func newSeeder(d dialect, z sizes, now time.Time, hash string, out io.Writer) *seeder {
	now = now.UTC().Truncate(time.Microsecond)
	today := now.Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(z.Days - 1))
	s := &seeder{d: d, z: z, out: out, hash: hash, now: now.UnixMicro(), start: first.UnixMicro(), today: today.UnixMicro()}
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(now); m = m.AddDate(0, 1, 0) {
		s.months = append(s.months, [2]int64{m.UnixMicro(), m.AddDate(0, 1, 0).UnixMicro()})
	}
	return s
}

// span is the window's length in µs, from the first midnight to now.
func (s *seeder) span() int64 { return s.now - s.start }

// userStep is the time between two users' creations.
func (s *seeder) userStep() int64 { return max(1, s.span()/int64(s.z.Users)) }

// operatorEvery: user i is an operator when i % operatorEvery = 0.
func (s *seeder) operatorEvery() int64 { return int64(max(1, min(10_000, s.z.Users))) }

// writerDB is the database/sql handle of the store's writer: the SQLite
// writer itself, or a database/sql view of the PostgreSQL pool.
func writerDB(st store.Store) (*sql.DB, func(), error) {
	switch s := st.(type) {
	case *sqlite.Store:
		return s.WriterDB(), func() {}, nil
	case *postgres.Store:
		db := stdlib.OpenDBFromPool(s.Pool())
		return db, func() { db.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unsupported store %T", st)
}

// step runs one timed part and prints how long it took.
func (s *seeder) step(ctx context.Context, name string, fn func(context.Context) (int64, error)) error {
	t0 := time.Now()
	s.part = name
	n, err := fn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	el := time.Since(t0)
	fmt.Fprintf(s.out, "%-34s %10d rows %10s\n", name, n, el.Round(time.Millisecond))
	return nil
}

// exec runs statements in one transaction and returns the rows the last
// one affected.
func (s *seeder) exec(ctx context.Context, stmts ...string) (int64, error) {
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int64
	for _, q := range stmts {
		res, err := tx.ExecContext(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("%w\nin: %.400s", err, q)
		}
		if n, err = res.RowsAffected(); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}

// chunked runs build(from, to) for consecutive ranges of 1..total, each in
// its own transaction, and returns the rows they affected.
func (s *seeder) chunked(ctx context.Context, total int64, build func(from, to int64) []string) (int64, error) {
	var sum int64
	t0 := time.Now()
	last := t0
	for from := int64(1); from <= total; from += int64(s.z.Chunk) {
		to := min(total, from+int64(s.z.Chunk)-1)
		n, err := s.exec(ctx, build(from, to)...)
		if err != nil {
			return sum, err
		}
		sum += n
		if time.Since(last) >= 10*time.Second && to < total {
			last = time.Now()
			fmt.Fprintf(s.out, "  %s: %d/%d after %s\n", s.part, to, total, time.Since(t0).Round(time.Second))
		}
	}
	return sum, nil
}

// seedAll writes everything but the operator, in the order the rows hang
// off each other, then applies the suspended and deleted tenants' cascades
// through the store, exactly as the service would.
func seedAll(ctx context.Context, st store.Store, z sizes, now time.Time, hash string, out io.Writer) (err error) {
	if err := z.validate(); err != nil {
		return err
	}
	db, closeDB, err := writerDB(st)
	if err != nil {
		return err
	}
	defer closeDB()
	s := newSeeder(dialect{name: st.Dialect()}, z, now, hash, out)

	// SQLite: the trigram index is built once at the end (sqlitefts.Defer).
	// Its finish must run after conn is back in the pool: the writer has
	// one connection.
	finish, err := sqlitefts.Defer(ctx, st, out)
	if err != nil {
		return err
	}
	err = func() error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		s.conn = conn
		if err := s.tune(ctx); err != nil {
			return err
		}
		return s.load(ctx)
	}()
	if ferr := finish(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if err != nil {
		return err
	}
	if err := s.step(ctx, "tenant cascades (store)", func(ctx context.Context) (int64, error) {
		return cascades(ctx, st, time.UnixMicro(s.now).UTC())
	}); err != nil {
		return err
	}
	return nil
}

// tune sets the seed's own connection up for bulk loading. SQLite: a 1 GiB
// page cache (the default 2 MiB makes every insert into the large random
// indexes — emails, a session's user — read pages back) and temporary
// tables in memory. PostgreSQL: room for the ledger's window sorts in
// memory. Neither outlives the seed's connection (SQLite's writer is
// the store's, which the seed closes when done).
func (s *seeder) tune(ctx context.Context) error {
	stmts := []string{"SET work_mem = '256MB'"}
	if !s.d.pg() {
		stmts = []string{"PRAGMA cache_size = -1048576", "PRAGMA temp_store = MEMORY"}
	}
	for _, q := range stmts {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

func (s *seeder) load(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) (int64, error)
	}{
		{"tenants", s.tenants},
		{"users", s.users},
		{"api keys", s.keys},
		{"sessions", s.sessions},
		{"usage events", s.events},
		{"ledger: entries", s.entries},
		{"ledger: blocks, draws, accounts", s.ledgerRest},
	}
	for _, p := range steps {
		if err := s.step(ctx, p.name, p.fn); err != nil {
			return err
		}
	}
	// Temporary tables go with the connection on PostgreSQL; SQLite keeps
	// its one writer open for good, so drop them.
	_, err := s.exec(ctx, "DROP TABLE seed_tenants", "DROP TABLE seed_users", "DROP TABLE seed_events",
		"DROP TABLE seed_ledger", "DROP TABLE seed_entries")
	return err
}

// tenants: created over the first half of the window; 5 % suspended and
// 2.5 % soft-deleted (their cascades run later), one in ten with a monthly
// spending cap of 30 % of its included credits. Billing periods are the
// calendar months.
func (s *seeder) tenants(ctx context.Context) (int64, error) {
	d, n := s.d, int64(s.z.Tenants)
	step := max(1, s.span()/2/n)
	created := fmt.Sprintf("%d + (i - 1) * %d + %s", s.start, step, frac(fmt.Sprint(step), hash("i", 1)))
	planIdx := "((i - 1) % 10)"
	incl := make([]string, len(planOf))
	for i, p := range planOf {
		incl[i] = fmt.Sprint(included[p])
	}
	// Whole groups of ten (one tenant of each plan weight) share a status,
	// so that even a small seed suspends and deletes tenants with members.
	status := "CASE WHEN (k - 1) / 10 % 20 = 1 THEN 'suspended' WHEN (k - 1) / 10 % 40 = 3 THEN 'deleted' ELSE 'active' END"
	return s.exec(ctx,
		`CREATE TEMP TABLE seed_tenants (k BIGINT PRIMARY KEY, id TEXT NOT NULL, plan TEXT NOT NULL,
			included BIGINT NOT NULL, status TEXT NOT NULL, created_us BIGINT NOT NULL)`,
		fmt.Sprintf(`INSERT INTO seed_tenants (k, id, plan, included, status, created_us)
			SELECT k, %s, plan, incl, %s, c FROM (SELECT i AS k, %s AS c, %s AS plan, %s AS incl FROM %s) x`,
			d.id("ten", "c", "k", 3), status, created, pick(planOf, planIdx), pickExpr(incl, planIdx), d.series(1, n)),
		fmt.Sprintf(`INSERT INTO tenants (id, name, slug, plan, status, monthly_cap, features, notes,
			billing_period_start, suspension_reason, suspended_at, deleted_at, status_before_delete, created_at, updated_at)
			SELECT id, %s || ' ' || k, 'tenant-' || k, plan, status,
				CASE WHEN %s %% 10 = 0 THEN included * 30 / 100 END, %s, '', %s,
				CASE status WHEN 'suspended' THEN 'invoice overdue' ELSE '' END,
				CASE status WHEN 'suspended' THEN %s END,
				CASE status WHEN 'deleted' THEN %s END,
				CASE status WHEN 'deleted' THEN 'active' ELSE '' END,
				%s, CASE status WHEN 'active' THEN %s ELSE %s END
			FROM seed_tenants`,
			pick(words, "(k % "+fmt.Sprint(len(words))+")"), hash("k", 4), d.object("{}"), d.ts(fmt.Sprint(s.months[0][0])),
			d.ts(fmt.Sprint(s.now)), d.ts(fmt.Sprint(s.now)), d.ts("created_us"), d.ts("created_us"), d.ts(fmt.Sprint(s.now))),
	)
}

// userTenant is the tenant (k) of user i, or NULL: a quarter of users
// belong to none, operators neither. Members go 0.3 % to free tenants
// (about 3 each, their max_users), 0.5 % to starter, 1.6 % to pro and the
// rest to scale tenants, so plan limits hold roughly as they would.
func (s *seeder) userTenant() string {
	groups := int64(s.z.Tenants / 10)
	r := "(" + hash("i", 8) + " % 1000)"
	g := fmt.Sprintf("(10 * (%s %% %d))", hash("i", 9), groups)
	off := "(" + hash("i", 10) + " % 4)"
	return fmt.Sprintf(`CASE WHEN i %% %d = 0 OR %s %% 100 < 25 THEN NULL
		WHEN %s < 3 THEN %s + %s %% 4 + 1
		WHEN %s < 8 THEN %s + 4 + %s %% 3 + 1
		WHEN %s < 24 THEN %s + 7 + %s %% 2 + 1
		ELSE %s + 10 END`, s.operatorEvery(), hash("i", 7), r, g, off, r, g, off, r, g, off, g)
}

// users: created evenly over the window; 4 % suspended, 3 % banned (half
// until a date ahead), 2 % soft-deleted; one in 10,000 an operator
// (support or admin); 85 % with a password, 75 % logged in since joining.
func (s *seeder) users(ctx context.Context) (int64, error) {
	d, z := s.d, s.z
	stepUS := s.userStep()
	created := fmt.Sprintf("%d + (i - 1) * %d + %s", s.start, stepUS, frac(fmt.Sprint(stepUS), hash("i", 1)))
	p := "(" + hash("i", 12) + " % 1000)"
	status := fmt.Sprintf(`CASE WHEN i %% %d = 0 THEN 'active' WHEN %s < 40 THEN 'suspended' WHEN %s < 70 THEN 'banned'
		WHEN %s < 90 THEN 'deleted' ELSE 'active' END`, s.operatorEvery(), p, p, p)
	role := fmt.Sprintf("CASE WHEN i %% %d <> 0 THEN 'user' WHEN %s %% 3 = 0 THEN 'admin' ELSE 'support' END",
		s.operatorEvery(), hash("i", 6))
	first := pick(firstNames, fmt.Sprintf("(%s %% %d)", hash("i", 2), len(firstNames)))
	last := pick(lastNames, fmt.Sprintf("(%s %% %d)", hash("i", 3), len(lastNames)))
	domain := pick(domains, fmt.Sprintf("(%s %% %d)", hash("i", 4), len(domains)))
	tags := make([]string, len(tagSets))
	for i, t := range tagSets {
		tags[i] = d.list(t)
	}
	metas := make([]string, len(metaSets))
	for i, m := range metaSets {
		metas[i] = d.object(m)
	}
	lastLogin := fmt.Sprintf("CASE WHEN %s %% 100 < 75 THEN c + %s END", hash("i", 16), frac(fmt.Sprintf("%d - c", s.now), hash("i", 17)))
	banned := "status = 'banned'"
	// A ban ends 30–330 days ahead for half the banned (the sweeper leaves
	// them alone during a run), never for the rest.
	banEnds := fmt.Sprintf("CASE WHEN %s AND %s %% 2 = 0 THEN %d + (30 + %s %% 300) * %d END", banned, hash("i", 18), s.now, hash("i", 19), day)
	return s.chunked(ctx, int64(z.Users), func(from, to int64) []string {
		var stmts []string
		if from == 1 {
			stmts = append(stmts, `CREATE TEMP TABLE seed_users (i BIGINT PRIMARY KEY, id TEXT NOT NULL, tenant_id TEXT,
				status TEXT NOT NULL, created_us BIGINT NOT NULL)`)
		}
		return append(stmts,
			fmt.Sprintf(`INSERT INTO seed_users (i, id, tenant_id, status, created_us)
				SELECT x.i, %s, t.id, %s, x.c FROM (SELECT i, %s AS c, %s AS tk FROM %s) x
				LEFT JOIN seed_tenants t ON t.k = x.tk`,
				d.id("usr", "x.c", "x.i", 5), status, created, s.userTenant(), d.series(from, to)),
			fmt.Sprintf(`INSERT INTO users (id, email, username, name, role, tenant_id, tenant_role, status,
					ban_reason, ban_expires_at, ban_by, ban_at, suspension_reason, tags, metadata, email_verified,
					last_login_at, created_at, updated_at, deleted_at, status_before_delete, password_hash)
				SELECT id, lower(fn) || '.' || lower(ln) || '.' || i || '@' || dom,
					CASE WHEN %s %% 100 < 60 THEN lower(fn) || lower(substr(ln, 1, 1)) || i END,
					fn || ' ' || ln, %s, tenant_id,
					CASE WHEN tenant_id IS NULL THEN '' WHEN %s %% 100 < 3 THEN 'owner' WHEN %s %% 100 < 15 THEN 'admin' ELSE 'member' END,
					status,
					CASE WHEN %s THEN 'spam' ELSE %s END, %s,
					CASE WHEN %s THEN %s ELSE %s END, CASE WHEN %s THEN %s END,
					CASE status WHEN 'suspended' THEN 'chargeback under review' ELSE '' END,
					%s, %s, %s %% 100 < 85,
					%s, %s, %s,
					CASE status WHEN 'deleted' THEN %s END,
					CASE status WHEN 'deleted' THEN 'active' ELSE '' END,
					CASE WHEN %s %% 100 < 85 THEN %s ELSE '' END
				FROM (SELECT u.*, %s AS fn, %s AS ln, %s AS dom, %s AS ll, %s AS be
					FROM (SELECT i, id, tenant_id, status, created_us AS c FROM seed_users WHERE i BETWEEN %d AND %d) u) x`,
				hash("i", 11), role, hash("i", 13), hash("i", 13),
				banned, d.banText(), d.ts("be"),
				banned, quote(banOperator), d.banText(), banned, d.ts("coalesce(ll, c)"),
				pickExpr(tags, fmt.Sprintf("(%s %% %d)", hash("i", 14), len(tags))),
				pickExpr(metas, fmt.Sprintf("(%s %% %d)", hash("i", 15), len(metas))), hash("i", 20),
				d.ts("ll"), d.ts("c"), d.ts("coalesce(ll, c)"),
				d.ts("coalesce(ll, c)"),
				hash("i", 21), quote(s.hash),
				first, last, domain, lastLogin, banEnds, from, to),
		)
	})
}

// banOperator is the id named as the operator who banned the banned users
// and who wrote the usage deducts.
const banOperator = "usr_0000000000SEED0PERAT0R000"

// keys: owned by random users (user keys, with the owner's tenant), or,
// one in 12, by an operator (admin and platform keys, no tenant). 10 %
// revoked, 15 % with an expiry 7–96 days after creation (so some expired),
// 70 % used since creation.
func (s *seeder) keys(ctx context.Context) (int64, error) {
	d, z := s.d, s.z
	if z.Keys == 0 {
		return 0, nil
	}
	ops := int64(z.Users) / s.operatorEvery()
	owner := fmt.Sprintf("CASE WHEN %s %% 12 = 0 THEN %d * (1 + %s %% %d) ELSE 1 + %s %% %d END",
		hash("i", 1), s.operatorEvery(), hash("i", 2), ops, hash("i", 3), z.Users)
	kt := fmt.Sprintf("CASE WHEN u.i %% %d <> 0 THEN 'user' WHEN %s %% 3 = 0 THEN 'platform' ELSE 'admin' END",
		s.operatorEvery(), hash("x.i", 4))
	since := func(h string) string { return d.ts("kc + " + frac(fmt.Sprintf("%d - kc", s.now), h)) }
	return s.chunked(ctx, int64(z.Keys), func(from, to int64) []string {
		return []string{fmt.Sprintf(`INSERT INTO api_keys (id, name, key_type, purpose, tenant_id, user_id, scopes,
				rate_limit_rpm, expires_at, status, revoked_at, revoked_reason, key_prefix, last_four,
				last_used_at, last_used_ip, created_by, created_at, updated_at, secret_hash)
			SELECT %s, 'key ' || i, kt, '', CASE kt WHEN 'user' THEN tenant_id END, uid,
				CASE kt WHEN 'user' THEN %s WHEN 'admin' THEN %s ELSE %s END,
				CASE WHEN %s %% 4 = 0 THEN 600 ELSE 0 END,
				CASE WHEN %s %% 100 < 15 THEN %s END,
				CASE WHEN rev THEN 'revoked' ELSE 'active' END, CASE WHEN rev THEN %s END,
				CASE WHEN rev THEN 'rotated' ELSE '' END,
				'stw_' || substr(kt, 1, 1) || '_' || %s, %s,
				CASE WHEN %s %% 100 < 70 THEN %s END, '10.1.0.' || (i %% 250),
				uid, %s, %s, %s
			FROM (SELECT x.i, u.id AS uid, u.tenant_id, %s AS kt, u.created_us + %s AS kc, %s %% 100 < 10 AS rev
				FROM (SELECT i, %s AS owner FROM %s) x JOIN seed_users u ON u.i = x.owner) k`,
			d.id("key", "kc", "i", 6), d.list(userScopes), d.list(adminScope), d.list(platScope),
			hash("i", 7), hash("i", 8), d.ts(fmt.Sprintf("kc + (7 + %s %% 90) * %d", hash("i", 16), day)),
			since(hash("i", 9)),
			d.enc(hash("i", 10), 4), d.enc(hash("i", 11), 4),
			hash("i", 12), since(hash("i", 13)),
			d.ts("kc"), d.ts("kc"), d.bytes("'seed-key-' || i"),
			kt, frac(fmt.Sprintf("%d - u.created_us", s.now), hash("x.i", 15)), hash("x.i", 14),
			owner, d.series(from, to))}
	})
}

// sessions: SessionsPerDay logins a day, evenly over the window, each by
// a user who existed by then (so most are expired); 30 % ended by logout,
// and the live ones of users who are not active revoked.
func (s *seeder) sessions(ctx context.Context) (int64, error) {
	d, z := s.d, s.z
	total := int64(z.SessionsPerDay) * int64(z.Days)
	if total == 0 {
		return 0, nil
	}
	stepUS := max(1, s.span()/total)
	created := fmt.Sprintf("%d + (i - 1) * %d + %s", s.start, stepUS, frac(fmt.Sprint(stepUS), hash("i", 1)))
	who := fmt.Sprintf("1 + %s %% %s", hash("i", 2),
		d.least(fmt.Sprint(z.Users), d.greatest("1", fmt.Sprintf("(c - %d) / %d", s.start, s.userStep()))))
	seen := fmt.Sprintf("c + %s", frac(d.least(fmt.Sprint(sessionTTL), fmt.Sprintf("%d - c", s.now)), hash("x.i", 3)))
	live := fmt.Sprintf("u.status <> 'active' AND c + %d > %d", sessionTTL, s.now)
	logout := hash("x.i", 4) + " % 100 < 30"
	return s.chunked(ctx, total, func(from, to int64) []string {
		return []string{fmt.Sprintf(`INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at,
				ip, user_agent, revoked_at, revoked_reason, impersonator_id, read_only)
			SELECT %s, u.id, %s, %s, %s, %s,
				'10.' || (%s %% 256) || '.' || (%s %% 256) || '.' || (%s %% 256), %s,
				CASE WHEN %s THEN %s WHEN %s THEN %s END,
				CASE WHEN %s THEN 'user no longer active' WHEN %s THEN 'logout' ELSE '' END,
				'', 1 = 0
			FROM (SELECT i, c, %s AS ui FROM (SELECT i, %s AS c FROM %s) y) x JOIN seed_users u ON u.i = x.ui`,
			d.id("ses", "c", "x.i", 7), d.bytes("'seed-session-' || x.i"), d.ts("c"), d.ts(fmt.Sprintf("c + %d", sessionTTL)), d.ts(seen),
			hash("x.i", 5), hash("x.i", 6), hash("x.i", 8), pick(agents, fmt.Sprintf("(%s %% %d)", hash("x.i", 9), len(agents))),
			live, d.ts(fmt.Sprint(s.now)), logout, d.ts(seen),
			live, logout,
			who, created, d.series(from, to))}
	})
}

// monthOf is the index in s.months of the month holding the time us.
func (s *seeder) monthOf(us string) string {
	var b strings.Builder
	b.WriteString("CASE")
	for i, m := range s.months {
		fmt.Fprintf(&b, " WHEN %s < %d THEN %d", us, m[1], i)
	}
	b.WriteString(" END")
	return b.String()
}

// events: EventsPerDay usage events per tenant per day since it was
// created, over four metrics and several models. Token and image events
// cost credits, each at most included/(31 × EventsPerDay), so a month's
// deducts never exceed the month's grant; each becomes a deduct entry
// (its id is the event's transaction_id) in seed_events for the ledger.
func (s *seeder) events(ctx context.Context) (int64, error) {
	d, z := s.d, s.z
	perTenant := int64(z.Days) * int64(z.EventsPerDay)
	total := int64(z.Tenants) * perTenant
	if _, err := s.exec(ctx, `CREATE TEMP TABLE seed_events (e BIGINT PRIMARY KEY, tenant_id TEXT NOT NULL,
		m INTEGER NOT NULL, occurred_us BIGINT NOT NULL, id TEXT NOT NULL, metric TEXT NOT NULL, model TEXT NOT NULL,
		quantity BIGINT NOT NULL, credits BIGINT NOT NULL, entry_id TEXT NOT NULL)`); err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, nil
	}
	metric := pick(metrics, fmt.Sprintf("(%s %% %d)", hash("i", 2), len(metrics)))
	model := fmt.Sprintf("CASE WHEN metric IN ('tokens', 'requests') THEN %s ELSE '' END",
		pick(models, fmt.Sprintf("(%s %% %d)", hash("i", 3), len(models))))
	qty := fmt.Sprintf("CASE metric WHEN 'tokens' THEN 100 + %s %% 5000 WHEN 'requests' THEN 1 + %s %% 20 WHEN 'images' THEN 1 + %s %% 4 ELSE %s %% 1000 END",
		hash("i", 4), hash("i", 4), hash("i", 4), hash("i", 4))
	credits := fmt.Sprintf("CASE WHEN metric IN ('tokens', 'images') THEN included * (1 + %s %% 8) / %d ELSE 0 END",
		hash("i", 5), 8*31*z.EventsPerDay)
	occurred := fmt.Sprintf("%d + ((i - 1) / %d %% %d) * %d + %s", s.start, z.EventsPerDay, z.Days, day, frac(fmt.Sprint(day), hash("i", 1)))
	return s.chunked(ctx, total, func(from, to int64) []string {
		return []string{
			fmt.Sprintf(`INSERT INTO seed_events (e, tenant_id, m, occurred_us, id, metric, model, quantity, credits, entry_id)
				SELECT i, tenant_id, %s, oc, %s, metric, %s, %s, %s, %s
				FROM (SELECT x.i, x.oc, t.id AS tenant_id, t.included, %s AS metric
					FROM (SELECT i, %s AS oc, (i - 1) / %d + 1 AS k FROM %s) x JOIN seed_tenants t ON t.k = x.k
					WHERE x.oc > t.created_us AND x.oc < %d) y`,
				s.monthOf("oc"), d.id("evt", "oc", "i", 8), model, qty, credits, d.id("txn", "oc", "i", 9),
				metric, occurred, perTenant, d.series(from, to), s.now),
			fmt.Sprintf(`INSERT INTO usage_events (tenant_id, id, user_id, metric, quantity, credits, cost_micros, model,
					occurred_at, recorded_at, transaction_id)
				SELECT tenant_id, id, '', metric, quantity, credits, quantity * 3, model, %s, %s,
					CASE WHEN credits > 0 THEN entry_id ELSE '' END
				FROM seed_events WHERE e BETWEEN %d AND %d`,
				d.ts("occurred_us"), d.ts(d.least("occurred_us + 250000", fmt.Sprint(s.now))), from, to),
		}
	})
}

// entries builds the ledger in seed_ledger, then numbers it per tenant
// into seed_entries and writes credit_entries. Each tenant gets its plan's
// included credits at the start of every month (a block expiring at the
// month's end), its events' deducts drawn from that block, and, for each
// month that has ended, an expire entry for what was left — which is what
// the service would have written, so balance = Σ entries = Σ open blocks.
func (s *seeder) entries(ctx context.Context) (int64, error) {
	d, z := s.d, s.z
	base := int64(z.Tenants) * int64(z.Days) * int64(z.EventsPerDay) // ids of grants and expires start past the events'
	var months []string
	for i, m := range s.months {
		months = append(months, fmt.Sprintf("(%d, %d, %d)", i, m[0], m[1]))
	}
	stmts := []string{
		"CREATE TEMP TABLE seed_months (m INTEGER PRIMARY KEY, start_us BIGINT NOT NULL, end_us BIGINT NOT NULL)",
		"INSERT INTO seed_months (m, start_us, end_us) VALUES " + strings.Join(months, ", "),
		`CREATE TEMP TABLE seed_ledger (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, m INTEGER NOT NULL,
			kind TEXT NOT NULL, amount BIGINT NOT NULL, at_us BIGINT NOT NULL, prio INTEGER NOT NULL,
			block TEXT NOT NULL, end_us BIGINT NOT NULL, event_id TEXT NOT NULL, metric TEXT NOT NULL)`,
		// Grants: at the month's start, or at the tenant's creation.
		fmt.Sprintf(`INSERT INTO seed_ledger (id, tenant_id, m, kind, amount, at_us, prio, block, end_us, event_id, metric)
			SELECT id, tenant_id, m, 'grant', included, at_us, 1, id, end_us, '', ''
			FROM (SELECT %s AS id, t.id AS tenant_id, mo.m, t.included, at_us, mo.end_us
				FROM (SELECT t.k, mo.m, %s AS at_us FROM seed_tenants t JOIN seed_months mo ON mo.end_us > t.created_us) g
				JOIN seed_tenants t ON t.k = g.k JOIN seed_months mo ON mo.m = g.m) x`,
			d.id("txn", "at_us", fmt.Sprintf("%d + t.k * 100 + mo.m", base), 10), d.greatest("mo.start_us", "t.created_us")),
		"CREATE INDEX seed_ledger_month ON seed_ledger (tenant_id, m, kind)",
		`INSERT INTO seed_ledger (id, tenant_id, m, kind, amount, at_us, prio, block, end_us, event_id, metric)
			SELECT ev.entry_id, ev.tenant_id, ev.m, 'deduct', -ev.credits, ev.occurred_us, 2, g.id, 0, ev.id, ev.metric
			FROM seed_events ev JOIN seed_ledger g ON g.tenant_id = ev.tenant_id AND g.m = ev.m AND g.kind = 'grant'
			WHERE ev.credits > 0`,
		// Expires: the month has ended and credits were left.
		fmt.Sprintf(`INSERT INTO seed_ledger (id, tenant_id, m, kind, amount, at_us, prio, block, end_us, event_id, metric)
			SELECT %s, tenant_id, m, 'expire', -(amount + spent), end_us, 0, id, 0, '', ''
			FROM (SELECT g.id, g.tenant_id, g.m, g.amount, g.end_us, t.k,
					coalesce((SELECT sum(x.amount) FROM seed_ledger x WHERE x.tenant_id = g.tenant_id AND x.m = g.m AND x.kind = 'deduct'), 0) AS spent
				FROM seed_ledger g JOIN seed_tenants t ON t.id = g.tenant_id
				WHERE g.kind = 'grant' AND g.end_us <= %d) y
			WHERE amount + spent > 0`,
			d.id("txn", "end_us", fmt.Sprintf("%d + %d * 100 + k * 100 + m", base, z.Tenants+1), 11), s.now),
		`CREATE TEMP TABLE seed_entries AS
			SELECT id, tenant_id, kind, amount, at_us, block, end_us, event_id, metric,
				row_number() OVER w AS seq, sum(amount) OVER w AS balance_after
			FROM seed_ledger
			WINDOW w AS (PARTITION BY tenant_id ORDER BY at_us, prio, id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
		fmt.Sprintf(`INSERT INTO credit_entries (id, tenant_id, seq, kind, amount, balance_after, description, reason,
				actor_type, actor_id, idempotency_key, related_id, block_id, expires_at, usage_event_id, created_at)
			SELECT id, tenant_id, seq, kind, amount, balance_after,
				CASE kind WHEN 'grant' THEN 'monthly included credits' WHEN 'expire' THEN 'block expired' ELSE 'usage: ' || metric END,
				'', CASE kind WHEN 'deduct' THEN 'operator' ELSE 'system' END,
				CASE kind WHEN 'deduct' THEN %s ELSE 'system' END,
				CASE kind WHEN 'deduct' THEN 'steward:usage:' || event_id ELSE '' END,
				CASE kind WHEN 'expire' THEN block ELSE '' END,
				CASE kind WHEN 'grant' THEN id ELSE '' END,
				CASE kind WHEN 'grant' THEN %s END, event_id, %s
			FROM seed_entries`, quote(banOperator), d.ts("end_us"), d.ts("at_us")),
	}
	return s.exec(ctx, stmts...)
}

// ledgerRest writes each grant's block (what is left of it), each deduct's
// and expire's draw from its month's block, and each tenant's account.
func (s *seeder) ledgerRest(ctx context.Context) (int64, error) {
	d := s.d
	month := s.months[len(s.months)-1][0]
	return s.exec(ctx,
		fmt.Sprintf(`INSERT INTO credit_blocks (id, tenant_id, amount, remaining, expires_at, created_at)
			SELECT g.id, g.tenant_id, g.amount, g.amount + coalesce(u.used, 0), %s, %s
			FROM seed_ledger g LEFT JOIN (SELECT block, sum(amount) AS used FROM seed_ledger WHERE kind <> 'grant' GROUP BY block) u
				ON u.block = g.id
			WHERE g.kind = 'grant'`, d.ts("g.end_us"), d.ts("g.at_us")),
		`INSERT INTO credit_draws (entry_id, ord, block_id, amount)
			SELECT id, 0, block, amount FROM seed_ledger WHERE kind <> 'grant'`,
		fmt.Sprintf(`INSERT INTO credit_accounts (tenant_id, balance, last_seq, day_spent, day_start, month_spent, month_start, updated_at)
			SELECT tenant_id, sum(amount), max(seq),
				sum(CASE WHEN kind = 'deduct' AND at_us >= %d THEN -amount ELSE 0 END), %s,
				sum(CASE WHEN kind = 'deduct' AND at_us >= %d THEN -amount ELSE 0 END), %s, %s
			FROM seed_entries GROUP BY tenant_id`,
			s.today, d.ts(fmt.Sprint(s.today)), month, d.ts(fmt.Sprint(month)), d.ts("max(at_us)")),
	)
}

// cascades suspends (or deletes) the members and keys of every tenant
// seeded suspended or deleted, through the store's own set moves, at now.
func cascades(ctx context.Context, st store.Store, now time.Time) (int64, error) {
	var moved int64
	for _, status := range []steward.TenantStatus{steward.TenantSuspended, steward.TenantDeleted} {
		var list []*steward.Tenant
		for before := ""; ; {
			page, err := st.ListTenants(ctx, steward.TenantFilter{Status: status, Before: before, Limit: 100})
			if err != nil {
				return moved, err
			}
			if len(page) == 0 {
				break
			}
			list, before = append(list, page...), page[len(page)-1].ID
		}
		for _, t := range list {
			reason := "tenant suspended: invoice overdue"
			if status == steward.TenantDeleted {
				reason = "tenant deleted"
			}
			err := st.Update(ctx, func(tx store.Tx) error {
				u, err := tx.HoldTenantUsers(ctx, t.ID, reason, now)
				if err != nil {
					return err
				}
				if _, err := tx.RevokeHeldSessions(ctx, t.ID, now, reason); err != nil {
					return err
				}
				k, err := tx.HoldTenantKeys(ctx, t.ID, now)
				moved += u + k
				return err
			})
			if err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}
