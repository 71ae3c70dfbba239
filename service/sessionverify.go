package service

import (
	"context"
	"errors"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// VerifySession answers POST /platform/sessions/verify for products that
// cannot use the verify package: the state of a session token or access JWT
// now, from the rows of the auth cache (authcache.go: a change committed on
// this replica is seen at once, on another when its notification arrives),
// and whether method may be used with it.
func (s *Auth) VerifySession(ctx context.Context, in steward.SessionVerifyRequest) (*steward.SessionVerifyResult, error) {
	if _, err := authorize(ctx, steward.PermSessionsVerify); err != nil {
		return nil, err
	}
	if in.Token == "" {
		return nil, steward.FieldError("token", "is required")
	}
	if in.Method != "" && !steward.ValidMethod(in.Method) {
		return nil, steward.FieldError("method", "must be an HTTP method such as GET or POST")
	}
	res := &steward.SessionVerifyResult{Code: steward.SessionVerifyNotFound}
	now := s.now()
	var (
		r   sessionRead
		err error
		ver int64 = -1
	)
	switch {
	case strings.HasPrefix(in.Token, s.cfg.KeyPrefix+"_s_"):
		hash := TokenHash(in.Token)
		r, err = s.readSession(ctx, "sh"+string(hash), func() (*steward.Session, error) {
			return s.store.GetSessionByTokenHash(ctx, hash)
		})
	case strings.Count(in.Token, ".") == 2:
		c, perr := s.parseAccess(ctx, in.Token)
		if perr != nil {
			if s.accessExpired(ctx, in.Token) {
				res.Code = steward.SessionVerifyExpired
			}
			return res, nil
		}
		ver = c.Ver
		r, err = s.readSession(ctx, "si"+c.SID, func() (*steward.Session, error) {
			return s.store.GetSession(ctx, c.SID)
		})
		if err == nil && r.sess.UserID != c.Subject {
			return res, nil
		}
	default:
		return res, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	sess, u := r.sess, r.user
	exp := sess.ExpiresAt
	res.UserID, res.TenantID, res.Role, res.SessionID, res.ExpiresAt = u.ID, u.TenantID, u.Role, sess.ID, &exp
	if sess.ImpersonationID != "" {
		m, err := s.cachedImpersonation(ctx, sess.ImpersonationID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if m != nil {
			res.Impersonation = &steward.SessionImpersonation{ID: m.ID, OperatorID: m.OperatorID,
				ReadOnly: m.ReadOnly, ExpiresAt: m.ExpiresAt}
		}
	}
	switch sess.State(now) {
	case steward.SessionRevoked:
		res.Code = steward.SessionVerifyRevoked
		return res, nil
	case steward.SessionExpired:
		res.Code = steward.SessionVerifyExpired
		return res, nil
	}
	switch {
	case !u.IsActive(now):
		res.Code = steward.SessionVerifyUserInactive
		return res, nil
	case ver >= 0 && ver != u.TokenVersion:
		res.Code = steward.SessionVerifyRevoked
		return res, nil
	}
	if ok, err := s.tenants.tenantActive(ctx, u.TenantID); err != nil || !ok {
		res.Code = steward.SessionVerifyTenantInactive
		return res, err
	}
	if sess.ImpersonationID != "" {
		if err := s.impersonationLive(ctx, sess, now); err != nil {
			if !errors.Is(err, errUnauthenticated) {
				return nil, err
			}
			res.Code = steward.SessionVerifyRevoked
			return res, nil
		}
	}
	if sess.ReadOnly && in.Method != "" && !steward.SafeMethod(in.Method) {
		res.Code = steward.SessionVerifyWriteDenied
		return res, nil
	}
	s.activity.session(sess, now)
	res.Valid, res.Code = true, steward.SessionVerifyValid
	return res, nil
}

// accessExpired reports whether raw is an access token Steward signed whose
// only fault is that it has expired.
func (s *Auth) accessExpired(ctx context.Context, raw string) bool {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return false
	}
	pub, ok := s.keys.find(ctx, tok.Headers[0].KeyID)
	if !ok {
		return false
	}
	var c accessClaims
	if err := tok.Claims(pub, &c); err != nil {
		return false
	}
	return errors.Is(c.ValidateWithLeeway(jwt.Expected{Issuer: Issuer, Time: s.now()}, 0), jwt.ErrExpired)
}
