// Command seed fills a Steward database with synthetic users for load tests.
//
//	export STEWARD_BOOTSTRAP_PASSWORD=bench-password-1   # or -admin-password
//	go run ./bench/seed -db sqlite:/tmp/bench.db -users 1000000
//	go run ./bench/seed -db 'postgres://postgres@127.0.0.1:55432/bench?sslmode=disable' -users 1000000
//
// It migrates the database, then writes users straight through the store, a
// few thousand per transaction. That bypasses the service layer on purpose:
// seed data has no audit entries and no sessions, and nothing checks the
// business rules a real create would. Ids come from id.New at increasing
// creation times spread over the last three years, so id order is creation
// order, as in a real database.
//
// It also creates one super_admin operator with -admin-email and
// -admin-password (hashed with the production argon2id parameters), so a
// benchmark can log in. Because an operator then exists, `steward serve`
// skips its own bootstrap. The seeded users share one password hash of a
// random password that is thrown away: none of them can log in.
//
// The data is deterministic apart from ids (their random part) and times
// (relative to now): the same -rand-seed and -users give the same emails,
// usernames, names, statuses, roles, tenant memberships, tags and metadata,
// on either backend.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/backend"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

type options struct {
	db            string
	users         int
	batch         int
	adminEmail    string
	adminPassword string
	randSeed      uint64
	span          time.Duration
	deferSearch   bool
	workers       int
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.StringVar(&o.db, "db", "sqlite:bench.db", "database: sqlite:<path> or a postgres:// URL")
	fs.IntVar(&o.users, "users", 1_000_000, "how many users to insert")
	fs.IntVar(&o.batch, "batch", 5000, "users per transaction")
	fs.StringVar(&o.adminEmail, "admin-email", "admin@bench.local", "email of the super_admin to create (empty: none)")
	fs.StringVar(&o.adminPassword, "admin-password", os.Getenv("STEWARD_BOOTSTRAP_PASSWORD"),
		"password of that super_admin (default $STEWARD_BOOTSTRAP_PASSWORD)")
	fs.Uint64Var(&o.randSeed, "rand-seed", 1, "seed of the generator of names, statuses, roles and tags")
	fs.DurationVar(&o.span, "span", 3*365*24*time.Hour, "creation times are spread over this long, ending an hour ago")
	fs.BoolVar(&o.deferSearch, "defer-search-index", true,
		"SQLite: build the trigram search index once after loading rather than row by row")
	fs.IntVar(&o.workers, "workers", 0, "concurrent write transactions (default: 1 on SQLite, 4 on PostgreSQL)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.workers <= 0 {
		o.workers = 1
		if !strings.HasPrefix(o.db, "sqlite:") {
			o.workers = 4
		}
	}
	if o.users < 0 || o.batch <= 0 {
		return errors.New("-users must be >= 0 and -batch > 0")
	}
	if o.adminEmail != "" {
		if msg := steward.ValidatePassword(o.adminPassword); msg != "" {
			return fmt.Errorf("-admin-password %s (or set STEWARD_BOOTSTRAP_PASSWORD)", msg)
		}
	}

	st, err := open(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.Close()

	existing, err := st.CountUsers(ctx, steward.UserFilter{Roles: []steward.Role{steward.RoleUser}})
	if err != nil {
		return err
	}
	if existing > 0 && o.users > 0 {
		return fmt.Errorf("the database holds %d users already; seed an empty database (delete the file or drop the schema)", existing)
	}

	start := time.Now()
	if err := load(ctx, st, o, out); err != nil {
		return err
	}
	seeded := time.Since(start)
	if o.adminEmail != "" {
		if err := ensureAdmin(ctx, st, o.adminEmail, o.adminPassword, out); err != nil {
			return err
		}
	}
	if o.users > 0 {
		fmt.Fprintf(out, "seeded %d users in %s (%.0f users/s)\n", o.users, seeded.Round(time.Millisecond),
			float64(o.users)/seeded.Seconds())
	}
	return nil
}

// load inserts the users, on SQLite with the search index built at the end
// (see deferSearchIndex).
func load(ctx context.Context, st store.Store, o options, out io.Writer) (err error) {
	if o.users == 0 {
		return nil
	}
	if o.deferSearch {
		finish, err := deferSearchIndex(ctx, st, out)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, finish()) }()
	}
	return seedUsers(ctx, st, o, out)
}

// open opens and migrates the database, as `steward serve` does.
func open(ctx context.Context, dsn string) (store.Store, error) {
	st, err := backend.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if s, ok := st.(*sqlite.Store); ok {
		// SQLite's default page cache is 2 MiB; past a few hundred thousand
		// rows the unique indexes and the trigram index no longer fit and
		// every insert reads pages back from the file. A larger cache on the
		// seed's own writer connection (the store keeps exactly one, open for
		// good) makes loading about CPU-bound. The server is not affected.
		if _, err := s.WriterDB().ExecContext(ctx, "PRAGMA cache_size = -1048576"); err != nil { // 1 GiB
			s.Close()
			return nil, err
		}
	}
	return st, nil
}

func ensureAdmin(ctx context.Context, st store.Store, email, pw string, out io.Writer) error {
	email = steward.NormalizeEmail(email)
	if _, err := st.GetUserByEmail(ctx, email); err == nil {
		fmt.Fprintf(out, "operator %s exists already\n", email)
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	hash, err := password.Hasher{P: password.Default()}.Hash(pw)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	u := &steward.User{ID: id.New("usr", now), Email: email, Name: "Bench operator",
		Role: steward.RoleSuperAdmin, Status: steward.StatusActive, Tags: []string{},
		Metadata: map[string]any{}, EmailVerified: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
		return fmt.Errorf("creating operator %s: %w", email, err)
	}
	fmt.Fprintf(out, "created super_admin %s (%s)\n", email, u.ID)
	return nil
}

func seedUsers(ctx context.Context, st store.Store, o options, out io.Writer) error {
	if o.users == 0 {
		return nil
	}
	// One throwaway password, hashed once with the production parameters: the
	// rows carry a realistic hash, and nobody knows the password.
	secret := make([]byte, 16)
	if _, err := crand.Read(secret); err != nil {
		return err
	}
	sharedHash, err := password.Hasher{P: password.Default()}.Hash(hex.EncodeToString(secret))
	if err != nil {
		return err
	}

	// One goroutine generates (the generator is sequential, so the data is
	// deterministic); o.workers write batches, each in its own transaction.
	// SQLite has one writer anyway; PostgreSQL takes several at once.
	g := newGenerator(o, sharedHash)
	batches := make(chan []*steward.User, o.workers)
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		defer close(batches)
		for i := 0; i < o.users; i += o.batch {
			batch := make([]*steward.User, 0, o.batch)
			for j := i; j < min(i+o.batch, o.users); j++ {
				batch = append(batch, g.user(j))
			}
			select {
			case batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	var (
		mu         sync.Mutex
		done       int
		start      = time.Now()
		lastReport = start
	)
	for range o.workers {
		eg.Go(func() error {
			for batch := range batches {
				err := st.Update(ctx, func(tx store.Tx) error {
					for _, u := range batch {
						if err := tx.CreateUser(ctx, u); err != nil {
							return fmt.Errorf("user %s: %w", u.Email, err)
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
				mu.Lock()
				done += len(batch)
				if time.Since(lastReport) >= 5*time.Second || done == o.users {
					lastReport = time.Now()
					el := time.Since(start)
					rate := float64(done) / el.Seconds()
					eta := time.Duration(float64(o.users-done) / rate * float64(time.Second))
					fmt.Fprintf(out, "%8d/%d users  %6.0f users/s  elapsed %s  eta %s\n",
						done, o.users, rate, el.Round(time.Second), eta.Round(time.Second))
				}
				mu.Unlock()
			}
			return nil
		})
	}
	return eg.Wait()
}

var (
	firstNames = strings.Fields(`Ada Grace Alan Linus Ken Dennis Barbara Margaret Edsger Donald
		Frances Radia Hedy Katherine Dorothy Mary John Tim Vint Bob Leslie Niklaus Tony Guido
		Rob Russ Brian Bjarne James Anders Yukihiro Larry Rasmus Brendan Sophie Jean Annie
		Karen Evelyn Joan Lynn Sara Priya Wei Mei Hiro Amara Tunde Chidi Lucia Mateo Ines
		Olga Ivan Noor Omar Leila Arjun Ravi Ana Pedro Sofia Elena Marta Lars Ingrid`)
	lastNames = strings.Fields(`Lovelace Hopper Turing Torvalds Thompson Ritchie Liskov Hamilton
		Dijkstra Knuth Allen Perlman Lamarr Johnson Vaughan Jackson Backus Lee Cerf Kahn
		Lamport Wirth Hoare Rossum Pike Cox Kernighan Stroustrup Gosling Hejlsberg Matsumoto
		Wall Lerdorf Eich Wilson Sammet Easley Jones Clarke Ball Conway Lovell Okafor Nakamura
		Chen Wang Garcia Martinez Rossi Silva Kowalski Novak Ivanova Haddad Khan Patel Singh
		Nguyen Kim Park Sato Muller Schmidt Dubois Moreau Jensen Larsen Berg Costa Santos`)
	domains = strings.Fields(`gmail.com outlook.com yahoo.com proton.me icloud.com fastmail.com
		example.com example.org mail.de web.de gmx.net hey.com`)
	tagPool = strings.Fields(`vip beta early-adopter enterprise trial churn-risk newsletter
		partner support-priority migrated sso gdpr-request`)
	plans   = strings.Fields(`free starter pro business enterprise`)
	sources = strings.Fields(`web ios android api import referral`)
)

type generator struct {
	src      *rand.PCG
	r        *rand.Rand // draws from src, which user(i) reseeds with (seed, i)
	o        options
	hash     string
	first    time.Time // creation time of user 0
	step     time.Duration
	tenants  []string
	operator string // the id named as the banning operator
}

func newGenerator(o options, hash string) *generator {
	end := time.Now().UTC().Add(-time.Hour)
	first := end.Add(-o.span)
	src := rand.NewPCG(o.randSeed, 0)
	g := &generator{src: src, r: rand.New(src), o: o, hash: hash,
		first: first, step: o.span / time.Duration(max(o.users, 1))}
	// Tenants are created over the first half of the span.
	n := max(10, o.users/500)
	g.tenants = make([]string, n)
	for i := range g.tenants {
		g.tenants[i] = id.New("ten", first.Add(o.span/2*time.Duration(i)/time.Duration(n)))
	}
	g.operator = id.New("usr", first)
	return g
}

func (g *generator) pick(list []string) string { return list[g.r.IntN(len(list))] }

// user returns the i-th user. Creation times increase strictly with i (at
// least a millisecond apart for up to ~90 billion users over three years),
// so the ids do too.
func (g *generator) user(i int) *steward.User {
	// Each user's draws depend on the seed and i alone, not on how many
	// values earlier users consumed (which varies with the clock), so two
	// seeds of the same size hold the same users apart from ids and times.
	g.src.Seed(g.o.randSeed, uint64(i))
	r := g.r
	created := g.first.Add(time.Duration(i)*g.step + time.Duration(r.Int64N(int64(max(g.step/2, 1)))))
	created = created.Truncate(time.Microsecond)
	first, last := g.pick(firstNames), g.pick(lastNames)
	num := strconv.FormatInt(int64(i), 36)
	var email string
	switch r.IntN(4) {
	case 0:
		email = strings.ToLower(first + "." + last + "." + num + "@" + g.pick(domains))
	case 1:
		email = strings.ToLower(first[:1] + last + num + "@" + g.pick(domains))
	case 2:
		email = strings.ToLower(first + "_" + num + "@" + g.pick(domains))
	default:
		email = strings.ToLower(last + "." + first + "+" + num + "@" + g.pick(domains))
	}
	u := &steward.User{
		ID: id.New("usr", created), Email: email, Name: first + " " + last,
		Role: steward.RoleUser, Status: steward.StatusActive, Tags: []string{}, Metadata: map[string]any{},
		EmailVerified: r.IntN(100) < 85, CreatedAt: created, UpdatedAt: created,
	}
	if r.IntN(100) < 60 {
		u.Username = strings.ToLower(first + last[:1] + num)
	}
	if r.IntN(100) < 85 {
		u.PasswordHash = g.hash // the rest sign in some other way (SSO, magic link)
	}
	if r.IntN(100) < 80 {
		// A power law: a few tenants hold many of the users.
		k := int(float64(len(g.tenants)) * r.Float64() * r.Float64() * r.Float64())
		u.TenantID = g.tenants[k]
		switch p := r.IntN(100); {
		case p < 3:
			u.TenantRole = steward.TenantOwner
		case p < 15:
			u.TenantRole = steward.TenantAdmin
		default:
			u.TenantRole = steward.TenantMember
		}
	}
	// A handful of operators, as in a real directory (one in 10,000).
	if r.IntN(10_000) == 0 {
		u.Role = []steward.Role{steward.RoleSupport, steward.RoleSupport, steward.RoleAdmin}[r.IntN(3)]
	}
	for n := r.IntN(4) - 1; n > 0; n-- { // 0–2 tags, half of users none
		t := g.pick(tagPool)
		if !contains(u.Tags, t) {
			u.Tags = append(u.Tags, t)
		}
	}
	if r.IntN(100) < 70 {
		u.Metadata = map[string]any{"plan": g.pick(plans), "signup_source": g.pick(sources)}
	}
	// Later activity, never in the future.
	now := time.Now().UTC()
	if r.IntN(100) < 75 {
		t := created.Add(time.Duration(r.Int64N(int64(now.Sub(created))))).Truncate(time.Microsecond)
		u.LastLoginAt = &t
		u.UpdatedAt = t
	}
	switch p := r.IntN(1000); {
	case p < 40: // 4 % suspended
		u.Status = steward.StatusSuspended
		u.SuspensionReason = "chargeback under review"
	case p < 70: // 3 % banned: permanently, or until a date far enough ahead that the sweeper leaves them alone during a run
		u.Status = steward.StatusBanned
		at := u.UpdatedAt.Add(time.Minute)
		if at.After(now) {
			at = now
		}
		u.Ban = &steward.Ban{Reason: "spam", By: g.operator, At: at}
		if r.IntN(2) == 0 {
			exp := now.Add(time.Duration(30+r.IntN(300)) * 24 * time.Hour).Truncate(time.Microsecond)
			u.Ban.ExpiresAt = &exp
		}
		u.UpdatedAt = at
	case p < 90: // 2 % soft-deleted
		u.Status, u.StatusBeforeDelete = steward.StatusDeleted, steward.StatusActive
		d := u.UpdatedAt.Add(time.Hour)
		if d.After(now) {
			d = now
		}
		u.DeletedAt, u.UpdatedAt = &d, d
	}
	return u
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
