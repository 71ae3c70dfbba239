package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

const (
	maxKeyNameLen    = 100
	maxAllowedIPs    = 100
	maxRateLimitRPM  = 1_000_000
	maxRotationGrace = 30 * 24 * time.Hour
	secretLen        = 43 // base62 characters: 43 × log2(62) ≈ 256 bits
	base62           = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// DefaultUserKeyScopes returns the scopes an end user's key may carry unless
// configured otherwise. They mean something to the product, not to Steward.
// A function, so no caller can change the default for every service.
func DefaultUserKeyScopes() []string { return []string{"read", "write"} }

// DefaultKeyPurposes returns the purposes a key may be created for unless
// configured otherwise; a fresh slice on each call.
func DefaultKeyPurposes() []string {
	return []string{"api", "automation", "ci", "integration", "internal", "optimal", "testing"}
}

// newKeySecret returns secretLen uniformly random base62 characters.
func newKeySecret() string {
	out := make([]byte, 0, secretLen)
	buf := make([]byte, 64)
	for len(out) < secretLen {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			// 248 = 4 × 62: rejecting the rest keeps every character equally likely.
			if b < 248 && len(out) < secretLen {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// keyHash is how a key's secret is stored and looked up. A plain SHA-256 is
// enough: the secret has 256 random bits, so there is nothing to brute-force.
func keyHash(text string) []byte {
	h := sha256.Sum256([]byte(text))
	return h[:]
}

// keyTypeOf parses "<prefix>_<letter>_<secret>" and returns the type, or "".
func (s *Keys) keyTypeOf(text string) steward.KeyType {
	p := s.cfg.KeyPrefix
	if len(text) != len(p)+3+secretLen || !strings.HasPrefix(text, p) || text[len(p)] != '_' || text[len(p)+2] != '_' {
		return ""
	}
	switch text[len(p)+1] {
	case 'u':
		return steward.KeyUser
	case 'a':
		return steward.KeyAdmin
	case 'p':
		return steward.KeyPlatform
	}
	return ""
}

// presentKey shows a key as it stands at now: revoked and expired as
// computed, and disabled while its owner may not act.
func (s *Keys) presentKey(k *steward.APIKey, owner *steward.User) *steward.APIKey {
	c := *k
	c.Status = k.State(s.now())
	if c.Status == steward.KeyActive && (owner == nil || !owner.IsActive(s.now())) {
		c.Status = steward.KeyDisabled
	}
	return &c
}

// normalizeCIDRs parses allowed_ips, turning bare addresses into /32 or /128.
func normalizeCIDRs(in []string) ([]string, string) {
	if len(in) > maxAllowedIPs {
		return nil, "at most 100 entries"
	}
	out := make([]string, 0, len(in))
	for _, v := range in {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked().String())
			continue
		}
		if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String())
			continue
		}
		return nil, fmt.Sprintf("%q is not an IP address or CIDR", v)
	}
	return out, ""
}

// scopeProblems checks scopes for a key type. It returns a message for the
// field and, separately, the scopes the actor does not hold (escalation).
func (s *Keys) scopeProblems(a steward.Actor, t steward.KeyType, scopes []steward.Permission) (string, []string) {
	if t == steward.KeyUser {
		for _, sc := range scopes {
			if !slices.Contains(s.cfg.UserKeyScopes, string(sc)) {
				return fmt.Sprintf("unknown scope %q for a user key; allowed: %s", sc, strings.Join(s.cfg.UserKeyScopes, ", ")), nil
			}
		}
		return "", nil
	}
	known := steward.AllPermissions()
	var notHeld []string
	for _, sc := range scopes {
		switch {
		case sc == steward.PermAll:
			if !(a.Role.Can(steward.PermAll) && (a.Scopes == nil || slices.Contains(a.Scopes, steward.PermAll))) {
				notHeld = append(notHeld, string(sc))
			}
		case !slices.Contains(known, sc):
			return fmt.Sprintf("unknown scope %q", sc), nil
		case !a.Can(sc):
			notHeld = append(notHeld, string(sc))
		}
	}
	return "", notHeld
}

// heldScopes is what an admin key defaults to: everything its creator holds.
func heldScopes(a steward.Actor) []steward.Permission {
	if a.Role.Can(steward.PermAll) && (a.Scopes == nil || slices.Contains(a.Scopes, steward.PermAll)) {
		return []steward.Permission{steward.PermAll}
	}
	var out []steward.Permission
	for _, p := range steward.AllPermissions() {
		if a.Can(p) {
			out = append(out, p)
		}
	}
	return out
}

func cannotEscalate(notHeld []string) error {
	return &steward.Error{Code: steward.CodeCannotEscalate,
		Message: "you cannot give a key scopes you do not hold: " + strings.Join(notHeld, ", "),
		Details: map[string]any{"scopes": notHeld}}
}

// CreateKey implements steward.KeyService.
func (s *Keys) CreateKey(ctx context.Context, in *steward.KeyCreate) (*steward.CreatedKey, error) {
	a, err := authorize(ctx, steward.PermKeysWrite)
	if err != nil {
		return nil, err
	}
	now := s.now()
	k := &steward.APIKey{Name: strings.TrimSpace(in.Name), Type: in.Type, Purpose: strings.TrimSpace(in.Purpose),
		UserID: strings.TrimSpace(in.UserID), TenantID: strings.TrimSpace(in.TenantID), Scopes: in.Scopes,
		RateLimitRPM: in.RateLimitRPM, Status: steward.KeyActive, CreatedBy: a.ID, CreatedAt: now, UpdatedAt: now}
	fe := steward.FieldErrors{}
	if k.Name == "" || utf8.RuneCountInString(k.Name) > maxKeyNameLen {
		fe.Add("name", "is required, at most 100 characters")
	}
	if !k.Type.Valid() {
		fe.Add("key_type", "must be one of user, admin, platform")
	}
	if k.Purpose == "" {
		k.Purpose = "api"
	}
	if !slices.Contains(s.cfg.KeyPurposes, k.Purpose) {
		fe.Add("purpose", "must be one of "+strings.Join(s.cfg.KeyPurposes, ", "))
	}
	if k.UserID == "" && k.Type != steward.KeyUser && a.Type == steward.ActorOperator {
		k.UserID = a.ID // an operator's own admin or platform key
	}
	if k.UserID == "" {
		fe.Add("user_id", "is required")
	}
	if k.RateLimitRPM < 0 || k.RateLimitRPM > maxRateLimitRPM {
		fe.Add("rate_limit_rpm", "must be between 0 (unlimited) and 1000000")
	}
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !t.After(now) {
			fe.Add("expires_at", "must be in the future")
		}
		k.ExpiresAt = &t
	}
	var msg string
	if k.AllowedIPs, msg = normalizeCIDRs(in.AllowedIPs); msg != "" {
		fe.Add("allowed_ips", msg)
	}
	var notHeld []string
	if k.Type.Valid() {
		if len(k.Scopes) == 0 {
			switch k.Type {
			case steward.KeyUser:
				for _, sc := range s.cfg.UserKeyScopes {
					k.Scopes = append(k.Scopes, steward.Permission(sc))
				}
			case steward.KeyAdmin:
				k.Scopes = heldScopes(a)
			case steward.KeyPlatform:
				fe.Add("scopes", "a platform key needs explicit scopes")
			}
		}
		k.Scopes = slices.Compact(slices.Sorted(slices.Values(k.Scopes)))
		if msg, notHeld = s.scopeProblems(a, k.Type, k.Scopes); msg != "" {
			fe.Add("scopes", msg)
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if len(notHeld) > 0 {
		return nil, cannotEscalate(notHeld)
	}
	secret := newKeySecret()
	text := s.cfg.KeyPrefix + "_" + k.Type.Letter() + "_" + secret
	k.ID = id.New("key", now)
	k.KeyPrefix = text[:len(s.cfg.KeyPrefix)+3+4]
	k.LastFour = secret[len(secret)-4:]
	k.SecretHash = keyHash(text)
	var owner *steward.User
	err = s.update(ctx, func(tx store.Tx) error {
		var err error
		if owner, err = s.keyOwner(ctx, tx, a, k); err != nil {
			return err
		}
		explicit := k.TenantID != ""
		if !explicit {
			k.TenantID = owner.TenantID
		}
		if err := keyTenant(ctx, tx, k.TenantID, explicit); err != nil {
			return err
		}
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "api_key.create", TargetType: "api_key", TargetID: k.ID,
			TenantID: k.TenantID, Changes: diff(&steward.APIKey{}, k),
			Metadata: map[string]any{"user_id": k.UserID, "key_type": k.Type}})
	})
	if err != nil {
		return nil, err
	}
	return &steward.CreatedKey{APIKey: s.presentKey(k, owner), Key: text}, nil
}

// keyTenant checks the tenant a new key will carry: it must exist when the
// caller named it, and be active (a suspended tenant's keys are held
// disabled; a new one would slip past its suspension).
func keyTenant(ctx context.Context, tx store.Tx, tid string, explicit bool) error {
	if tid == "" {
		return nil
	}
	t, err := tx.GetTenant(ctx, tid)
	switch {
	case errors.Is(err, store.ErrNotFound) && explicit:
		return slugHint(ctx, tx, tid, steward.FieldError("tenant_id", "no such tenant"))
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case t.Status != steward.TenantActive:
		return tenantInactive(t, "get new keys")
	}
	return nil
}

// keyOwner loads and checks the user a key is for, inside the transaction.
func (s *Keys) keyOwner(ctx context.Context, tx store.Tx, a steward.Actor, k *steward.APIKey) (*steward.User, error) {
	owner, err := tx.GetUser(ctx, k.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, steward.FieldError("user_id", "no such user")
	}
	if err != nil {
		return nil, err
	}
	if owner.Status == steward.StatusDeleted {
		return nil, steward.FieldError("user_id", "the user is deleted")
	}
	if k.Type != steward.KeyUser && !owner.Role.IsOperator() {
		return nil, steward.FieldError("user_id", "admin and platform keys belong to an operator (role support or above)")
	}
	if err := guardRank(a, owner); err != nil {
		return nil, err
	}
	return owner, nil
}

// GetKey implements steward.KeyService.
func (s *Keys) GetKey(ctx context.Context, kid string) (*steward.APIKey, error) {
	if _, err := authorize(ctx, steward.PermKeysRead); err != nil {
		return nil, err
	}
	k, err := s.store.GetAPIKey(ctx, kid)
	if err != nil {
		return nil, notFound(err, "api key", kid)
	}
	owner, err := s.store.GetUser(ctx, k.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return s.presentKey(k, owner), nil
}

// ListKeys implements steward.KeyService.
func (s *Keys) ListKeys(ctx context.Context, f steward.KeyFilter, p steward.ListParams) (*steward.Page[*steward.APIKey], error) {
	if _, err := authorize(ctx, steward.PermKeysRead); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	switch f.Status {
	case "", steward.KeyActive, steward.KeyRevoked, steward.KeyExpired, steward.KeyDisabled:
	default:
		fe.Add("status", "must be one of active, revoked, expired, disabled")
	}
	if f.Type != "" && !f.Type.Valid() {
		fe.Add("type", "must be one of user, admin, platform")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	f.Before = before
	f.Now, f.Limit = s.now(), limit+1
	rows, err := s.store.ListAPIKeys(ctx, f)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(rows))
	for _, k := range rows {
		ids = append(ids, k.UserID)
	}
	owners, err := s.store.ListUsersByIDs(ctx, slices.Compact(slices.Sorted(slices.Values(ids))))
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*steward.User, len(owners))
	for _, u := range owners {
		byID[u.ID] = u
	}
	for i, k := range rows {
		rows[i] = s.presentKey(k, byID[k.UserID])
	}
	pg := page(rows, limit, func(k *steward.APIKey) string { return encodeCursor(k.ID) })
	if p.IncludeTotal {
		n, err := s.store.CountAPIKeys(ctx, f)
		if err != nil {
			return nil, err
		}
		pg.Total = &n
	}
	return pg, nil
}

// mutateKey is the one path every change to an existing key takes:
// authorize, load the key and its owner in the transaction, check the
// actor outranks the owner, apply, write the row and its audit entry.
func (s *Keys) mutateKey(ctx context.Context, kid string, apply func(tx store.Tx, a steward.Actor, k *steward.APIKey) (event, error)) (*steward.APIKey, *steward.User, error) {
	if _, err := authorize(ctx, steward.PermKeysWrite); err != nil {
		return nil, nil, err
	}
	var out *steward.APIKey
	var owner *steward.User
	err := s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermKeysWrite)
		if err != nil {
			return err
		}
		k, err := tx.GetAPIKey(ctx, kid)
		if err != nil {
			return notFound(err, "api key", kid)
		}
		owner, err = tx.GetUser(ctx, k.UserID)
		if err != nil {
			return err
		}
		if err := guardRank(a, owner); err != nil {
			return err
		}
		before := *k
		ev, err := apply(tx, a, k)
		if err != nil {
			return err
		}
		k.UpdatedAt = s.now()
		if err := tx.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		ev.TargetType, ev.TargetID, ev.TenantID = "api_key", k.ID, k.TenantID
		ev.Changes = diff(&before, k)
		out = k
		return s.audit(ctx, tx, ev)
	})
	if err != nil {
		return nil, nil, err
	}
	return out, owner, nil
}

func keyInvalidState(k *steward.APIKey, now time.Time, action string) error {
	st := k.State(now)
	return &steward.Error{Code: steward.CodeInvalidState, Message: "cannot " + action + " a key that is " + string(st),
		Details: map[string]any{"status": string(st)}}
}

// UpdateKey implements steward.KeyService.
func (s *Keys) UpdateKey(ctx context.Context, kid string, p *steward.KeyPatch) (*steward.APIKey, error) {
	k, owner, err := s.mutateKey(ctx, kid, func(tx store.Tx, a steward.Actor, k *steward.APIKey) (event, error) {
		if k.State(s.now()) == steward.KeyRevoked {
			return event{}, keyInvalidState(k, s.now(), "change")
		}
		fe := steward.FieldErrors{}
		if p.Name.Set {
			name := strings.TrimSpace(p.Name.Value)
			if p.Name.Null || name == "" || utf8.RuneCountInString(name) > maxKeyNameLen {
				fe.Add("name", "is required, at most 100 characters")
			}
			k.Name = name
		}
		if p.AllowedIPs.Set {
			ips, msg := normalizeCIDRs(p.AllowedIPs.Value)
			if msg != "" {
				fe.Add("allowed_ips", msg)
			}
			k.AllowedIPs = ips
		}
		if p.RateLimitRPM.Set {
			if p.RateLimitRPM.Value < 0 || p.RateLimitRPM.Value > maxRateLimitRPM {
				fe.Add("rate_limit_rpm", "must be between 0 (unlimited) and 1000000")
			}
			k.RateLimitRPM = p.RateLimitRPM.Value
		}
		return event{Action: "api_key.update"}, fe.Err()
	})
	if err != nil {
		return nil, err
	}
	s.limits.forget(k.ID) // a new limit starts from a full bucket
	return s.presentKey(k, owner), nil
}

// RevokeKey implements steward.KeyService.
func (s *Keys) RevokeKey(ctx context.Context, kid, reason string) (*steward.APIKey, error) {
	reason, err := validReason(reason, false)
	if err != nil {
		return nil, err
	}
	k, owner, err := s.mutateKey(ctx, kid, func(tx store.Tx, a steward.Actor, k *steward.APIKey) (event, error) {
		now := s.now()
		if k.State(now) == steward.KeyRevoked {
			return event{}, keyInvalidState(k, now, "revoke")
		}
		if reason == "" {
			reason = "revoked by operator"
		}
		k.Status, k.RevokedAt, k.RevokedReason = steward.KeyRevoked, &now, reason
		return event{Action: "api_key.revoke", Reason: reason}, nil
	})
	if err != nil {
		return nil, err
	}
	return s.presentKey(k, owner), nil
}

// BulkRevokeKeys implements steward.KeyService.
func (s *Keys) BulkRevokeKeys(ctx context.Context, ids []string) (*steward.BulkResult, error) {
	if _, err := authorize(ctx, steward.PermKeysWrite); err != nil {
		return nil, err
	}
	ids = compactIDs(ids)
	switch {
	case len(ids) == 0:
		return nil, steward.FieldError("key_ids", "is required")
	case len(ids) > steward.MaxBulk:
		return nil, steward.FieldError("key_ids", "at most 1000 ids")
	}
	return runBulk(ctx, s.core, ids, func(ctx context.Context, kid string) (string, error) {
		_, err := s.RevokeKey(ctx, kid, "bulk revoke")
		return "", err
	})
}

// RotateKey implements steward.KeyService.
func (s *Keys) RotateKey(ctx context.Context, kid string, in *steward.KeyRotate) (*steward.CreatedKey, error) {
	// Bounds first: a huge count of seconds would overflow a Duration.
	if in.GracePeriodSeconds < 0 || in.GracePeriodSeconds > int(maxRotationGrace/time.Second) {
		return nil, steward.FieldError("grace_period_seconds", "must be between 0 and 2592000 (30 days)")
	}
	grace := time.Duration(in.GracePeriodSeconds) * time.Second
	var created *steward.CreatedKey
	_, _, err := s.mutateKey(ctx, kid, func(tx store.Tx, a steward.Actor, old *steward.APIKey) (event, error) {
		now := s.now()
		if st := old.State(now); st == steward.KeyRevoked || st == steward.KeyExpired {
			return event{}, keyInvalidState(old, now, "rotate")
		}
		if err := keyTenant(ctx, tx, old.TenantID, false); err != nil {
			return event{}, err
		}
		if old.Type != steward.KeyUser {
			if _, notHeld := s.scopeProblems(a, old.Type, old.Scopes); len(notHeld) > 0 {
				return event{}, cannotEscalate(notHeld)
			}
		}
		secret := newKeySecret()
		text := s.cfg.KeyPrefix + "_" + old.Type.Letter() + "_" + secret
		nk := *old
		nk.ID, nk.RotatedFrom, nk.CreatedBy, nk.CreatedAt, nk.UpdatedAt = id.New("key", now), old.ID, a.ID, now, now
		nk.Status, nk.RevokedAt, nk.RevokedReason, nk.LastUsedAt, nk.LastUsedIP = steward.KeyActive, nil, "", nil, ""
		nk.KeyPrefix, nk.LastFour, nk.SecretHash = text[:len(s.cfg.KeyPrefix)+3+4], secret[len(secret)-4:], keyHash(text)
		if err := tx.CreateAPIKey(ctx, &nk); err != nil {
			return event{}, err
		}
		until := now.Add(grace)
		old.RevokedAt, old.RevokedReason = &until, "rotated to "+nk.ID
		if grace == 0 {
			old.Status = steward.KeyRevoked
		}
		created = &steward.CreatedKey{APIKey: &nk, Key: text}
		return event{Action: "api_key.rotate", Metadata: map[string]any{"new_key_id": nk.ID,
			"grace_period_seconds": in.GracePeriodSeconds, "old_key_works_until": until}}, nil
	})
	if err != nil {
		return nil, err
	}
	owner, err := s.store.GetUser(ctx, created.UserID)
	if err != nil {
		return nil, err
	}
	created.APIKey = s.presentKey(created.APIKey, owner)
	return created, nil
}

// KeyStats implements steward.KeyService.
func (s *Keys) KeyStats(ctx context.Context) (*steward.KeyStats, error) {
	if _, err := authorize(ctx, steward.PermKeysRead); err != nil {
		return nil, err
	}
	return s.store.APIKeyStats(ctx, s.now())
}
