package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/store"
)

var errUnauthenticated = steward.Errorf(steward.CodeUnauthenticated, "missing, invalid or expired credential")

// invalidLogin is the one answer for every failed login: unknown account,
// wrong password, or an account that may not log in. It never says which.
var invalidLogin = steward.Errorf(steward.CodeInvalidCredentials, "invalid email, username or password")

// newSecret returns 32 random bytes (256 bits) as unpadded base64url.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenHash is how a session token is stored and looked up.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// hash is the password hash for a new or changed password, through the
// service's bounded pool.
func (s *core) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.hasher.Hash(ctx, pw)
	return h, hashErr(err)
}

// hashErr turns a full hashing pool into a 429: the request waited its
// share and the server is busy hashing, which retrying later fixes.
func hashErr(err error) error {
	if errors.Is(err, password.ErrBusy) {
		return rateLimited("the server is busy checking passwords; try again shortly", time.Second)
	}
	return err
}

// HashSlots is the bound on concurrent password hashes, and MaxHashesInFlight
// the most that ever ran at once: what the login-flood test asserts.
func (s *core) HashSlots() int { return s.hasher.Slots() }

// MaxHashesInFlight: see HashSlots.
func (s *core) MaxHashesInFlight() int { return s.hasher.MaxInFlight() }

// burnPasswordCheck makes a login for an unknown account, or one without a
// password, cost what a real one costs, so response time does not reveal
// which accounts exist. The dummy hash is made with this service's own
// parameters, on first use, through the bounded pool like every hash.
func (s *Auth) burnPasswordCheck(ctx context.Context, pw string) error {
	s.dummyMu.Lock()
	if s.dummyHash == "" {
		h, err := s.hasher.Hash(ctx, "not-a-real-password")
		if err != nil {
			s.dummyMu.Unlock()
			return hashErr(err)
		}
		s.dummyHash = h
	}
	dummy := s.dummyHash
	s.dummyMu.Unlock()
	_, _, err := s.hasher.Verify(ctx, pw, dummy)
	return hashErr(err)
}

// Login implements steward.AuthService.
//
// Whether an account answers to the name typed changes nothing a caller can
// see: the same checks run in the same order, a password hash is checked
// either way, and the throttles (see loginThrottle) count by the name typed.
func (s *Auth) Login(ctx context.Context, in steward.LoginInput) (*steward.LoginResult, error) {
	fe := steward.FieldErrors{}
	email, username := steward.NormalizeEmail(in.Email), steward.NormalizeUsername(in.Username)
	if email == "" && username == "" {
		fe.Add("email", "email or username is required")
	}
	if msg := steward.InvisibleProblem(email); msg != "" {
		fe.Add("email", msg)
	}
	if msg := steward.InvisibleProblem(username); msg != "" {
		fe.Add("username", msg)
	}
	if in.Password == "" {
		fe.Add("password", "is required")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	name := "email:" + email
	if email == "" {
		name = "username:" + username
	}
	now := s.now()
	if wait := s.ipLimit.wait(in.IP, now); wait > 0 {
		return nil, rateLimited("too many failed logins from this address; try again later", wait)
	}
	var u *steward.User
	var err error
	if email != "" {
		u, err = s.store.GetUserByEmail(ctx, email)
	} else {
		u, err = s.store.GetUserByUsername(ctx, username)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		u, err = nil, nil
	case err != nil:
		return nil, err
	}
	var resetAt time.Time
	if u != nil && u.LoginResetAt != nil {
		resetAt = *u.LoginResetAt
	}
	if wait, _ := s.logins.check(name, in.IP, resetAt, now); wait > 0 {
		return nil, rateLimited("too many failed logins for this account; try again later", wait)
	}
	ok, rehash := false, false
	if u != nil && u.PasswordHash != "" {
		ok, rehash, err = s.hasher.Verify(ctx, in.Password, u.PasswordHash)
		if errors.Is(err, password.ErrBusy) || ctx.Err() != nil {
			return nil, firstErr(hashErr(err), ctx.Err())
		}
		if err != nil {
			s.log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID, "err", err)
		}
	} else if err := s.burnPasswordCheck(ctx, in.Password); err != nil {
		return nil, err
	}
	// Right password, but the account may not log in: a failure like any
	// other, so that it too looks like a name nobody has. Members of a
	// suspended or deleted tenant are suspended by its cascade; the tenant
	// check also covers one whose ban lapsed meanwhile.
	if ok && u.IsActive(now) {
		if ok, err = s.tenants.tenantActive(ctx, u.TenantID); err != nil {
			return nil, err
		}
	} else {
		ok = false
	}
	if !ok {
		return nil, s.loginFailed(ctx, u, name, in.IP, now)
	}
	newHash := ""
	if rehash {
		// Best effort: a busy pool leaves the old hash for the next login.
		if newHash, err = s.hasher.Hash(ctx, in.Password); err != nil {
			newHash = ""
			s.log.WarnContext(ctx, "password rehash skipped", "user_id", u.ID, "err", err)
		}
	}
	token := s.cfg.KeyPrefix + "_s_" + newSecret()
	sess := &steward.Session{ID: id.New("ses", now), UserID: u.ID, TokenHash: TokenHash(token),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL), LastSeenAt: now, IP: in.IP,
		UserAgent: truncate(in.UserAgent, 512)}
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if !cur.IsActive(now) || cur.PasswordHash != u.PasswordHash {
			return invalidLogin // changed while we checked the password
		}
		cur.LastLoginAt, cur.UpdatedAt = &now, now
		if newHash != "" {
			cur.PasswordHash = newHash
		}
		if err := tx.UpdateUser(ctx, cur); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		u = cur
		actx := steward.WithActor(ctx, actorFor(cur, sess))
		return s.audit(actx, tx, event{Action: "auth.login", TargetType: "session", TargetID: sess.ID,
			TenantID: cur.TenantID, Metadata: map[string]any{"user_id": cur.ID, "password_rehashed": newHash != ""}})
	})
	if err != nil {
		return nil, err
	}
	s.logins.succeed(name, in.IP, now)
	return s.loginResult(ctx, u, sess, token)
}

// loginFailed counts a failure against every throttle and, for a name an
// account answers to, writes it to the audit log (auth.login_failed, or
// auth.lockout when it filled a limit). It returns the one failure answer.
func (s *Auth) loginFailed(ctx context.Context, u *steward.User, name, ip string, now time.Time) error {
	s.ipLimit.fail(ip, now)
	tripped, until := s.logins.fail(name, ip, now)
	if u == nil {
		return invalidLogin
	}
	ctx = steward.WithActor(ctx, steward.Actor{Type: steward.ActorAnonymous})
	action, meta := "auth.login_failed", map[string]any{"user_id": u.ID}
	if tripped != "" {
		action, meta["scope"], meta["until"] = "auth.lockout", tripped, until
	}
	err := s.update(ctx, func(tx store.Tx) error {
		return s.audit(ctx, tx, event{Action: action, TargetType: "user", TargetID: u.ID,
			TenantID: u.TenantID, Metadata: meta})
	})
	return firstErr(err, invalidLogin)
}

func (s *Auth) loginResult(ctx context.Context, u *steward.User, sess *steward.Session, token string) (*steward.LoginResult, error) {
	if err := s.keys.reloadIfStale(ctx); err != nil {
		return nil, err
	}
	access, exp, err := s.signAccess(u, sess)
	if err != nil {
		return nil, err
	}
	s.activity.session(sess, s.now())
	return &steward.LoginResult{SessionToken: token, AccessToken: access, TokenType: "Bearer",
		ExpiresAt: exp, SessionExpires: sess.ExpiresAt, User: s.users.present(u)}, nil
}

// Refresh implements steward.AuthService. It mints a new access token; the
// session token stays the same. last_seen_at is bookkeeping, not audited.
func (s *Auth) Refresh(ctx context.Context, token string) (*steward.LoginResult, error) {
	if !strings.HasPrefix(token, s.cfg.KeyPrefix+"_s_") {
		return nil, errUnauthenticated
	}
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	p.Session.LastSeenAt = s.now()
	if err := s.update(ctx, func(tx store.Tx) error { return tx.UpdateSession(ctx, p.Session) }); err != nil {
		return nil, err
	}
	return s.loginResult(ctx, p.User, p.Session, token)
}

// Logout implements steward.AuthService.
func (s *Auth) Logout(ctx context.Context, token string) error {
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	if p.Session == nil {
		return steward.Errorf(steward.CodeWrongSurface, "an API key has no session to log out of")
	}
	ctx = steward.WithActor(ctx, p.Actor)
	return s.update(ctx, func(tx store.Tx) error {
		sess, err := tx.GetSession(ctx, p.Session.ID)
		if err != nil {
			return err
		}
		now := s.now()
		sess.RevokedAt, sess.RevokedReason = &now, "logout"
		if err := tx.UpdateSession(ctx, sess); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, event{Action: "auth.logout", TargetType: "session", TargetID: sess.ID,
			TenantID: p.User.TenantID}); err != nil {
			return err
		}
		if sess.ImpersonationID == "" {
			return nil
		}
		return s.endImpersonationsFor(ctx, tx, store.ImpersonationEnd{SessionID: sess.ID}, now, endedLogout)
	})
}

// Authenticate implements steward.AuthService. It accepts a session token or
// an access JWT: the session must be live, the user active, and a JWT's
// token version current. The rows come from the auth cache, which every
// write invalidates (authcache.go), so a suspension, ban, logout or
// password change takes effect on this replica's next request and on the
// other replicas' when the notification arrives.
func (s *Auth) Authenticate(ctx context.Context, token string) (*steward.Principal, error) {
	var r sessionRead
	var err error
	var ver int64 = -1
	switch {
	case strings.HasPrefix(token, s.cfg.KeyPrefix+"_a_"), strings.HasPrefix(token, s.cfg.KeyPrefix+"_p_"),
		strings.HasPrefix(token, s.cfg.KeyPrefix+"_u_"):
		return s.apiKeys.authenticateKey(ctx, token)
	case strings.HasPrefix(token, s.cfg.KeyPrefix+"_s_"):
		hash := TokenHash(token)
		r, err = s.readSession(ctx, "sh"+string(hash), func() (*steward.Session, error) {
			return s.store.GetSessionByTokenHash(ctx, hash)
		})
	case strings.Count(token, ".") == 2:
		if p, ok, err := s.issuers.authenticate(ctx, token); ok {
			return p, err
		}
		c, perr := s.parseAccess(ctx, token)
		if perr != nil {
			return nil, perr
		}
		ver = c.Ver
		r, err = s.readSession(ctx, "si"+c.SID, func() (*steward.Session, error) {
			return s.store.GetSession(ctx, c.SID)
		})
		if err == nil && r.sess.UserID != c.Subject {
			return nil, errUnauthenticated
		}
	default:
		return nil, errUnauthenticated
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if r.sess.State(now) != steward.SessionActive || !r.user.IsActive(now) || (ver >= 0 && ver != r.user.TokenVersion) {
		return nil, errUnauthenticated
	}
	if r.sess.ImpersonationID != "" {
		if err := s.impersonationLive(ctx, r.sess, now); err != nil {
			return nil, err
		}
	}
	s.activity.session(r.sess, now)
	// Copies: the reads may be shared with other requests.
	sess, u := *r.sess, *r.user
	return &steward.Principal{Actor: actorFor(&u, &sess), User: s.users.present(&u), Session: &sess}, nil
}

// sessionRead is a session and its user, read together.
type sessionRead struct {
	sess *steward.Session
	user *steward.User
}

// readSession loads a session and its user through the auth cache. A
// session whose user is gone reads as not found.
func (s *Auth) readSession(ctx context.Context, key string, load func() (*steward.Session, error)) (sessionRead, error) {
	return cached(s.authCache, key, func() (sessionRead, error) {
		sess, err := load()
		if err != nil {
			return sessionRead{}, err
		}
		u, err := s.store.GetUser(ctx, sess.UserID)
		return sessionRead{sess, u}, err
	}, func(r sessionRead) []string {
		return append([]string{sessionKey(r.sess.ID), flagUserKey(r.user.ID)}, tenantDeps(r.user.TenantID)...)
	})
}

func actorFor(u *steward.User, sess *steward.Session) steward.Actor {
	t := steward.ActorUser
	if u.Role.IsOperator() {
		t = steward.ActorOperator
	}
	return steward.Actor{Type: t, ID: u.ID, Role: u.Role, CredentialID: sess.ID, ImpersonatorID: sess.ImpersonatorID}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
