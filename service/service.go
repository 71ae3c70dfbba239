// Package service holds Steward's business rules, written once for every
// backend: authorization and the role guards, audit writes in the same
// transaction as each change, session and credential rules. It implements the
// steward service interfaces on top of a store.Store.
package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/clock"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/datatables"
)

// Config wires a Service. Zero values get the documented defaults.
type Config struct {
	Store  store.Store
	Now    func() time.Time // default clock.Real
	Logger *slog.Logger

	KeyPrefix        string          // default "stw"
	Password         password.Params // default password.Default()
	AccessTokenTTL   time.Duration   // default 15m
	SessionTTL       time.Duration   // default 30 days
	SigningKeyMaxAge time.Duration   // rotate the signing key after this; default 30 days
	// LockoutAfter failures in a row for one account name from one client
	// address make that pair wait LockoutFor; default 10 and 15m.
	LockoutAfter int
	LockoutFor   time.Duration
	// LoginFailuresPerAccount is how many failed logins an account name
	// may take per hour (burst the same) from addresses that have not
	// signed in to it recently, before they are slowed to that rate;
	// default 50.
	LoginFailuresPerAccount int
	// LoginFailuresPerIP is how many failed logins one IP may make per
	// minute (burst the same) before it gets 429; default 20.
	LoginFailuresPerIP int
	// HashConcurrency bounds the password hashes running at once (each
	// takes Password.MemoryKiB); default the number of CPUs. HashQueueWait
	// is how long a request waits for a slot before a 429; default 2s.
	HashConcurrency int
	HashQueueWait   time.Duration
	// UserKeyScopes are the scopes end users' keys may carry; default
	// DefaultUserKeyScopes.
	UserKeyScopes []string
	// KeyPurposes are the purposes a key may name; default DefaultKeyPurposes.
	KeyPurposes []string
	// Plans is the plan catalogue, already validated; default
	// steward.DefaultPlans. The first plan is what a tenant created
	// without one gets.
	Plans []*steward.Plan
	// Flags is the feature flag registry, the plans' features already
	// checked against it; default steward.DefaultFlagRegistry.
	Flags *steward.FlagRegistry
	// SecretKey (SecretKeySize bytes, from STEWARD_SECRET_KEY), when set,
	// encrypts the signing keys' private halves at rest; Start seals any
	// stored otherwise. SecretKeyPrevious only decrypts: keys sealed with
	// it are re-sealed with SecretKey at Start (see keyseal.go).
	SecretKey, SecretKeyPrevious []byte
	// CheckpointInterval is how often CheckpointIfDue signs the audit
	// chain's head when it has moved; default DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// TrustedIssuers are the external identity providers whose JWTs the
	// admin surface accepts, from ParseTrustedIssuers (issuers.go).
	TrustedIssuers []TrustedIssuer
	// ImpersonationMax caps an impersonation's length; default 1h.
	// ImpersonationHidden turns off GET /auth/impersonations.
	ImpersonationMax    time.Duration
	ImpersonationHidden bool
	// KeyUsageRetention is how long key-usage counts are kept; default
	// DefaultKeyUsageRetention (keyusage.go).
	KeyUsageRetention time.Duration
	// RetentionBatch is how many rows one purge transaction deletes;
	// default DefaultRetentionBatch (retention.go).
	RetentionBatch int
	// Webhooks: see WebhookAddressPolicy (webhook_url.go).
	Webhooks WebhookAddressPolicy
	// ResourceStaleAfter is the default older_than of a stale resource
	// purge; default DefaultResourceStaleAfter (resources.go).
	ResourceStaleAfter time.Duration
	// Data is the data admin's sources and tables ([data] in the
	// configuration file; docs/data-admin.md).
	Data datatables.Config
	// DataLoader opens Data's sources and introspects its tables; nil is
	// datatables.Load (tests give their own). No configured tables is an
	// empty catalog: nothing is exposed (dataadmin.go).
	DataLoader DataLoader
	// Actions are the custom admin actions ([[actions]]).
	Actions []steward.AdminAction
	// Models is the model catalogue, already validated
	// (steward.ValidateModels); empty: no models (models.go).
	Models []*steward.Model
}

// core is what every domain service shares: the store, the clock, the
// logger, the config, the password hasher and the signing key ring, and the
// shared helpers (authorize, currentActor, audit, update). Each domain type
// embeds it and keeps its own state; a domain that needs another reaches it
// through a pointer New wires. A new capability is a new type embedding core,
// in its own files, added to Service.
type core struct {
	store  store.Store
	now    func() time.Time
	log    *slog.Logger
	cfg    Config
	hasher *password.Pool
	keys   *keyRing
	// activity queues who was active when, for Series (activity.go).
	activity *activityLog
	// flagCache answers GET /platform/features, authCache holds the rows
	// of authentication and verification; update invalidates both
	// (flags_cache.go, authcache.go, notetx.go), and so does the listener
	// cacheWatch starts on PostgreSQL.
	flagCache  *flagCache
	authCache  *authCache
	cacheWatch sync.Once
	// sealNudge wakes RunSealer after a commit (sealer.go); sealHook, set
	// only by tests, runs inside a seal pass before its write-back.
	sealNudge chan struct{}
	sealHook  func(ctx context.Context, batch []*steward.AuditEntry)
}

// Users implements steward.UserService (users.go, bulk.go).
type Users struct {
	*core
	tenants *Tenants // membership limits
}

// Sessions implements steward.SessionService (sessions.go).
type Sessions struct{ *core }

// Audit implements steward.AuditService (audit.go).
type Audit struct{ *core }

// Auth implements steward.AuthService: logins, tokens and signing keys
// (auth.go, keys.go, limiter.go).
type Auth struct {
	*core
	logins    *loginThrottle
	dummyMu   sync.Mutex
	dummyHash string // see burnPasswordCheck
	verified  verifiedTokens
	ipLimit   *failureLimiter

	users   *Users   // how a user is shown
	tenants *Tenants // whether a user's tenant is active
	apiKeys *Keys    // API keys are bearer credentials too
	issuers *Issuers // external issuers' JWTs (issuers.go)
}

// Keys implements steward.KeyService: API keys and their verification
// (apikeys.go, keyverify.go).
type Keys struct {
	*core
	limits keyLimiter
	uses   keyUses
	usage  *KeyUsage // counts each verification's outcome
}

// Idempotency implements steward.IdempotencyService (idempotency.go).
type Idempotency struct {
	*core
	idem idempotency
}

// Tenants implements steward.TenantService (tenants.go).
type Tenants struct {
	*core
	users   *Users   // lapsed bans, before a cascade
	credits *Credits // balances and plan-change prorations
}

// Credits implements steward.CreditService: the ledger and usage
// (credits.go, usage.go, ledgerbatch.go).
type Credits struct {
	*core
	ledger ledgerBatcher
}

// Impersonations implements steward.ImpersonationService (impersonations.go).
type Impersonations struct {
	*core
	tenants *Tenants // whether the user's tenant is active
	auth    *Auth    // signs the impersonation's access token
}

// Overview implements steward.StatsService: the stat counters, their
// check and repair, and the lapse sweeper (overview.go).
type Overview struct {
	*core
	series *Series // this month's and today's figures, from the hourly buckets
}

// Service wires the domain services on one core, for cmd/steward and tests:
// one constructor, plus the process-level jobs (Start, Bootstrap, Maintain).
type Service struct {
	*core
	Users       *Users
	Sessions    *Sessions
	Audit       *Audit
	Auth        *Auth
	Keys        *Keys
	Idempotency *Idempotency
	Tenants     *Tenants
	Credits     *Credits

	Impersonations *Impersonations
	Health         *Health
	KeyUsage       *KeyUsage
	Series         *Series
	Overview       *Overview
	Retention      *Retention
	PlatformConfig *PlatformConfig
	UserSpending   *UserSpending
	Features       *Features
	Webhooks       *Webhooks
	Resources      *Resources
	Models         *Models
	Actions        *Actions // custom admin actions (dataadmin_actions.go)
	Data           *DataAdmin
}

var (
	_ steward.UserService        = (*Users)(nil)
	_ steward.SessionService     = (*Sessions)(nil)
	_ steward.AuditService       = (*Audit)(nil)
	_ steward.AuthService        = (*Auth)(nil)
	_ steward.KeyService         = (*Keys)(nil)
	_ steward.IdempotencyService = (*Idempotency)(nil)
	_ steward.CreditService      = (*Credits)(nil)
	_ steward.StatsService       = (*Overview)(nil)
)

// New returns a Service. Call Start before serving so a signing key exists.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = clock.Real
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "stw"
	}
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.Default()
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = 15 * time.Minute
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	if cfg.SigningKeyMaxAge == 0 {
		cfg.SigningKeyMaxAge = 30 * 24 * time.Hour
	}
	if cfg.LockoutAfter == 0 {
		cfg.LockoutAfter = 10
	}
	if cfg.LockoutFor == 0 {
		cfg.LockoutFor = 15 * time.Minute
	}
	if cfg.LoginFailuresPerAccount == 0 {
		cfg.LoginFailuresPerAccount = 50
	}
	if cfg.LoginFailuresPerIP == 0 {
		cfg.LoginFailuresPerIP = 20
	}
	if len(cfg.UserKeyScopes) == 0 {
		cfg.UserKeyScopes = DefaultUserKeyScopes()
	}
	if len(cfg.KeyPurposes) == 0 {
		cfg.KeyPurposes = DefaultKeyPurposes()
	}
	if len(cfg.Plans) == 0 {
		cfg.Plans = steward.DefaultPlans()
	}
	if cfg.Flags == nil {
		cfg.Flags = steward.DefaultFlagRegistry()
	}
	s := &core{
		store:  cfg.Store,
		now:    func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) },
		log:    cfg.Logger,
		cfg:    cfg,
		hasher: password.NewPool(password.Hasher{P: cfg.Password}, cfg.HashConcurrency, cfg.HashQueueWait),
	}
	s.keys = &keyRing{s: s}
	s.activity = &activityLog{}
	s.flagCache = newFlagCache(cfg.Store, s.watchCaches)
	s.authCache = newAuthCache(s.watchCaches)
	s.sealNudge = make(chan struct{}, 1)
	svc := &Service{core: s, Users: &Users{core: s}, Sessions: &Sessions{s}, Audit: &Audit{s},
		Auth: &Auth{core: s, ipLimit: newFailureLimiter(cfg.LoginFailuresPerIP, time.Minute),
			logins: newLoginThrottle(cfg.LockoutAfter, cfg.LockoutFor, cfg.LoginFailuresPerAccount)},
		Keys: &Keys{core: s}, Idempotency: &Idempotency{core: s}, Tenants: &Tenants{core: s}, Credits: &Credits{core: s}}
	svc.Users.tenants = svc.Tenants
	svc.Auth.users, svc.Auth.tenants, svc.Auth.apiKeys = svc.Users, svc.Tenants, svc.Keys
	svc.Auth.issuers = newIssuers(s, svc.Users)
	svc.Tenants.users, svc.Tenants.credits = svc.Users, svc.Credits
	svc.Impersonations = &Impersonations{core: s, tenants: svc.Tenants, auth: svc.Auth}
	svc.Health = newHealth(s)
	svc.KeyUsage = &KeyUsage{core: s}
	svc.Keys.usage = svc.KeyUsage
	svc.Series = &Series{core: s}
	svc.Overview = &Overview{core: s, series: svc.Series}
	svc.Series.overview = svc.Overview
	svc.Retention = &Retention{core: s}
	// Each section of /admin/config is listed here, in the order GET shows
	// them; its rules live in its own file.
	svc.PlatformConfig = &PlatformConfig{core: s, sections: []configSection{
		s.featuresConfigSection(), quotasSection(), spendingSection(), switchesSection(),
	}}
	svc.UserSpending = &UserSpending{core: s}
	svc.Features = &Features{core: s}
	svc.Webhooks = newWebhooks(s)
	svc.Resources = &Resources{core: s}
	svc.Models = &Models{core: s}
	svc.Actions = newActions(s, svc.Webhooks)
	svc.Data = newDataAdmin(s)
	svc.Data.actions = svc.Actions
	return svc
}

// Start makes sure a current signing key exists, rotating an old one, and
// that a configured model catalogue has an active model (models.go).
func (s *Service) Start(ctx context.Context) error {
	if err := s.keys.ensure(ctx); err != nil {
		return err
	}
	if err := s.Models.start(ctx); err != nil {
		return err
	}
	return s.Data.start(ctx)
}

// authorize returns the actor in ctx if it holds perm.
func authorize(ctx context.Context, perm steward.Permission) (steward.Actor, error) {
	a, ok := steward.ActorFrom(ctx)
	if !ok {
		return a, steward.Errorf(steward.CodeUnauthenticated, "authentication required")
	}
	if !a.Can(perm) {
		return a, forbidden(a, perm)
	}
	return a, nil
}

// update runs fn in one write transaction; audit entries fn appends commit
// or roll back with it.
func (s *core) update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.updateNoting(ctx, fn)
}

// event is what a mutation tells the audit log.
type event struct {
	Action     string
	TargetType string
	TargetID   string
	TenantID   string
	Reason     string
	Changes    any // map[string]change or nil
	Metadata   any // counts and context, or nil
}

type change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// audit appends one entry inside tx, pending: the sequencer gives it its
// seq and hash once tx committed (sealer.go), so no write waits on the
// chain's head.
func (s *core) audit(ctx context.Context, tx store.Tx, ev event) error {
	var err error
	a, ok := steward.ActorFrom(ctx)
	if !ok {
		a = steward.SystemActor
	}
	ri := steward.RequestInfoFrom(ctx)
	now := s.now()
	e := &steward.AuditEntry{
		ID: id.New("aud", now), Time: now, Pending: true,
		ActorType: a.Type, ActorID: a.ID, ActorRole: string(a.Role),
		ImpersonatorID: a.ImpersonatorID, CredentialID: a.CredentialID,
		Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID, TenantID: ev.TenantID,
		Reason: ev.Reason, IP: ri.IP, UserAgent: ri.UserAgent, RequestID: ri.RequestID,
	}
	if ev.Changes != nil {
		if e.Changes, err = json.Marshal(ev.Changes); err != nil {
			return err
		}
	}
	if ev.Metadata != nil {
		if e.Metadata, err = json.Marshal(ev.Metadata); err != nil {
			return err
		}
	}
	if err := tx.InsertAudit(ctx, e); err != nil {
		return err
	}
	return announce(ctx, tx, e) // the webhook outbox, same transaction (outbox.go)
}

// notFound maps store.ErrNotFound to a NOT_FOUND error naming the thing.
func notFound(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return steward.Errorf(steward.CodeNotFound, "%s %q not found", what, id)
	}
	return err
}

// duplicate maps a store.DuplicateError to ALREADY_EXISTS naming the field.
func duplicate(err error) error {
	var d *store.DuplicateError
	if errors.As(err, &d) {
		return &steward.Error{Code: steward.CodeAlreadyExists,
			Message: d.Field + " is already taken",
			Details: map[string]any{"fields": map[string]any{d.Field: "is already taken"}}}
	}
	return err
}

// page turns limit+1 fetched rows into a page. cursorOf encodes the last row kept.
func page[T any](rows []T, limit int, cursorOf func(T) string) *steward.Page[T] {
	p := &steward.Page[T]{Data: rows}
	if len(rows) > limit {
		p.Data = rows[:limit]
		p.HasMore = true
		c := cursorOf(p.Data[limit-1])
		p.NextCursor = &c
	}
	if p.Data == nil {
		p.Data = []T{}
	}
	return p
}

// limitOf clamps a requested page size.
func limitOf(p steward.ListParams) (int, error) {
	switch {
	case p.Limit == 0:
		return steward.DefaultLimit, nil
	case p.Limit < 0 || p.Limit > steward.MaxLimit:
		return 0, steward.FieldError("limit", "must be between 1 and 200")
	}
	return p.Limit, nil
}

// keyset reads a keyset list's page size and the id its cursor continues after.
func keyset(p steward.ListParams) (limit int, before string, err error) {
	if limit, err = limitOf(p); err != nil {
		return 0, "", err
	}
	before, err = decodeCursor(p.Cursor)
	return limit, before, err
}

// Cursors are opaque to clients: base64url of the last row's key.
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	// The decoded key reaches the database: it follows the text rule too.
	if err != nil || len(b) == 0 || len(b) > 128 || steward.CheckText(string(b), false) != "" {
		return "", errBadCursor()
	}
	return string(b), nil
}

func errBadCursor() error {
	return &steward.Error{Code: steward.CodeBadRequest, Message: "cursor is malformed",
		Details: map[string]any{"fields": map[string]any{"cursor": "is malformed"}}}
}

func decodeSeqCursor(c string) (int64, error) {
	k, err := decodeCursor(c)
	if err != nil || k == "" {
		return 0, err
	}
	n, perr := strconv.ParseInt(k, 10, 64)
	if perr != nil || n <= 0 {
		return 0, errBadCursor()
	}
	return n, nil
}
