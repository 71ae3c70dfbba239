package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
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

// dummyHash lets a login for an unknown account cost what a real one costs,
// so response time does not reveal which accounts exist.
var (
	dummyOnce sync.Once
	dummyHash string
)

func (s *Auth) burnPasswordCheck(pw string) {
	dummyOnce.Do(func() { dummyHash, _ = s.hasher.Hash("not-a-real-password") })
	_, _, _ = s.hasher.Verify(pw, dummyHash)
}

// Login implements steward.AuthService.
func (s *Auth) Login(ctx context.Context, in steward.LoginInput) (*steward.LoginResult, error) {
	fe := steward.FieldErrors{}
	email, username := steward.NormalizeEmail(in.Email), strings.ToLower(strings.TrimSpace(in.Username))
	if email == "" && username == "" {
		fe.Add("email", "email or username is required")
	}
	if in.Password == "" {
		fe.Add("password", "is required")
	}
	if err := fe.Err(); err != nil {
		return nil, err
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
	if errors.Is(err, store.ErrNotFound) {
		s.burnPasswordCheck(in.Password)
		s.ipLimit.fail(in.IP, now)
		return nil, invalidLogin
	}
	if err != nil {
		return nil, err
	}
	if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		s.ipLimit.fail(in.IP, now)
		return nil, rateLimited("too many failed logins for this account; try again later", u.LockedUntil.Sub(now))
	}
	ok := false
	rehash := false
	if u.PasswordHash != "" {
		ok, rehash, err = s.hasher.Verify(in.Password, u.PasswordHash)
		if err != nil {
			s.log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID, "err", err)
		}
	} else {
		s.burnPasswordCheck(in.Password)
	}
	if !ok {
		s.ipLimit.fail(in.IP, now)
		if err := s.recordLoginFailure(ctx, u.ID); err != nil {
			return nil, err
		}
		return nil, invalidLogin
	}
	if !u.IsActive(now) {
		return nil, invalidLogin
	}
	// Members of a suspended or deleted tenant are suspended by its
	// cascade; this also covers one whose ban lapsed meanwhile.
	if ok, err := s.tenants.tenantActive(ctx, u.TenantID); err != nil || !ok {
		return nil, firstErr(err, invalidLogin)
	}
	newHash := ""
	if rehash {
		if newHash, err = s.hasher.Hash(in.Password); err != nil {
			return nil, err
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
		cur.FailedLogins, cur.LockedUntil, cur.LastLoginAt, cur.UpdatedAt = 0, nil, &now, now
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
	return s.loginResult(ctx, u, sess, token)
}

// recordLoginFailure counts a failed password for the account and locks it
// after LockoutAfter failures in a row.
func (s *Auth) recordLoginFailure(ctx context.Context, uid string) error {
	ctx = steward.WithActor(ctx, steward.Actor{Type: steward.ActorAnonymous})
	return s.update(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, uid)
		if err != nil {
			return err
		}
		now := s.now()
		u.FailedLogins++
		action := "auth.login_failed"
		meta := map[string]any{"user_id": uid, "consecutive_failures": u.FailedLogins}
		if u.FailedLogins >= s.cfg.LockoutAfter {
			until := now.Add(s.cfg.LockoutFor)
			u.LockedUntil, u.FailedLogins = &until, 0
			action, meta["locked_until"] = "auth.lockout", until
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: action, TargetType: "user", TargetID: uid,
			TenantID: u.TenantID, Metadata: meta})
	})
}

func (s *Auth) loginResult(ctx context.Context, u *steward.User, sess *steward.Session, token string) (*steward.LoginResult, error) {
	if err := s.keys.reloadIfStale(ctx); err != nil {
		return nil, err
	}
	access, exp, err := s.signAccess(u, sess)
	if err != nil {
		return nil, err
	}
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
		return s.audit(ctx, tx, event{Action: "auth.logout", TargetType: "session", TargetID: sess.ID,
			TenantID: p.User.TenantID})
	})
}

// Authenticate implements steward.AuthService. It accepts a session token or
// an access JWT and always checks the database: the session must be live,
// the user active, and a JWT's token version current, so a suspension,
// ban, logout or password change takes effect on the next request.
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
		r, err = s.readSession(ctx, "h"+string(hash), func() (*steward.Session, error) {
			return s.store.GetSessionByTokenHash(ctx, hash)
		})
	case strings.Count(token, ".") == 2:
		c, perr := s.parseAccess(ctx, token)
		if perr != nil {
			return nil, perr
		}
		ver = c.Ver
		r, err = s.readSession(ctx, "i"+c.SID, func() (*steward.Session, error) {
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
	// Copies: the reads may be shared with other requests.
	sess, u := *r.sess, *r.user
	return &steward.Principal{Actor: actorFor(&u, &sess), User: s.users.present(&u), Session: &sess}, nil
}

// sessionRead is a session and its user, read together.
type sessionRead struct {
	sess *steward.Session
	user *steward.User
}

// readSession loads a session and its user through the read cache. A
// session whose user is gone reads as not found.
func (s *Auth) readSession(ctx context.Context, key string, load func() (*steward.Session, error)) (sessionRead, error) {
	return readThrough(s.core, &s.sessionReads, key, func() (sessionRead, error) {
		sess, err := load()
		if err != nil {
			return sessionRead{}, err
		}
		u, err := s.store.GetUser(ctx, sess.UserID)
		return sessionRead{sess, u}, err
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
