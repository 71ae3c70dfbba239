package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

type tagParams struct {
	Tags []string `json:"tags"`
}

type notifyParams struct {
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// BulkUsers implements steward.UserService. The whole request is refused when
// it is malformed or the actor lacks the action's permission; after that each
// id runs in its own transaction with its own audit entry, so one bad id does
// not stop the others.
func (s *Users) BulkUsers(ctx context.Context, in *steward.BulkRequest) (*steward.BulkResult, error) {
	perm := steward.PermUsersWrite
	if in.Action == steward.BulkDelete {
		perm = steward.PermUsersDelete
	}
	if _, err := authorize(ctx, perm); err != nil {
		return nil, err
	}
	if in.Action == steward.BulkDelete { // refused whole, like a missing permission
		if err := switchOn(ctx, s.store, SwitchUserDeletion); err != nil {
			return nil, err
		}
	}
	fe := steward.FieldErrors{}
	var run func(ctx context.Context, uid string) (string, error)
	switch in.Action {
	case steward.BulkSuspend:
		run = func(ctx context.Context, uid string) (string, error) {
			_, err := s.SuspendUser(ctx, uid, "")
			return "", err
		}
	case steward.BulkUnsuspend:
		run = func(ctx context.Context, uid string) (string, error) {
			_, err := s.UnsuspendUser(ctx, uid)
			return "", err
		}
	case steward.BulkDelete:
		run = func(ctx context.Context, uid string) (string, error) {
			_, err := s.DeleteUser(ctx, uid, "")
			return "", err
		}
	case steward.BulkTag:
		var p tagParams
		if err := strictJSON(in.Params, &p); err != nil || len(p.Tags) == 0 {
			fe.Add("params.tags", "is required: a list of tags")
		} else if msg := steward.ValidateTags(p.Tags); msg != "" {
			fe.Add("params.tags", msg)
		}
		run = func(ctx context.Context, uid string) (string, error) { return "", s.tagUser(ctx, uid, p.Tags) }
	case steward.BulkNotify:
		var p notifyParams
		if err := strictJSON(in.Params, &p); err != nil {
			fe.Add("params", "must be {subject, message}")
		}
		p.Subject, p.Message = strings.TrimSpace(p.Subject), strings.TrimSpace(p.Message)
		if p.Subject == "" || len(p.Subject) > 200 {
			fe.Add("params.subject", "is required, at most 200 characters")
		}
		if p.Message == "" || len(p.Message) > 10000 {
			fe.Add("params.message", "is required, at most 10000 characters")
		}
		run = func(ctx context.Context, uid string) (string, error) { return s.recordNotification(ctx, uid, p) }
	default:
		fe.Add("action", "must be one of suspend, unsuspend, delete, tag, notify")
	}
	ids := compactIDs(in.UserIDs)
	switch {
	case len(ids) == 0:
		fe.Add("user_ids", "is required")
	case len(ids) > steward.MaxBulk:
		fe.Add("user_ids", "at most 1000 ids")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return runBulk(ctx, s.core, ids, run)
}

// runBulk runs one action per id, each on its own, collecting per-id results.
func runBulk(ctx context.Context, s *core, ids []string, run func(ctx context.Context, id string) (string, error)) (*steward.BulkResult, error) {
	res := &steward.BulkResult{Results: make([]steward.BulkItem, 0, len(ids))}
	for _, one := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msg, err := run(ctx, one)
		item := steward.BulkItem{ID: one, OK: err == nil, Message: msg}
		if err != nil {
			item.Code = steward.ErrorCode(err)
			if e, ok := err.(*steward.Error); ok {
				item.Message = e.Message
			} else {
				s.log.ErrorContext(ctx, "bulk item failed", "id", one, "err", err)
				item.Message = "internal error"
			}
			res.Failed++
		} else {
			res.Succeeded++
		}
		res.Results = append(res.Results, item)
	}
	return res, nil
}

// compactIDs trims, drops empties and duplicates, keeping order.
func compactIDs(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func strictJSON(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return errNotObject
	}
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// tagUser adds tags to a user (a union: tags already there stay).
func (s *Users) tagUser(ctx context.Context, uid string, tags []string) error {
	_, err := s.mutateUser(ctx, uid, userOp{perm: steward.PermUsersWrite,
		apply: func(tx store.Tx, a steward.Actor, u *steward.User) (event, error) {
			if err := guardRank(a, u); err != nil {
				return event{}, err
			}
			for _, t := range tags {
				if !slices.Contains(u.Tags, t) {
					u.Tags = append(u.Tags, t)
				}
			}
			if msg := steward.ValidateTags(u.Tags); msg != "" {
				return event{}, steward.FieldError("params.tags", msg)
			}
			return event{Action: "user.tag"}, nil
		}})
	return err
}

// recordNotification writes the request to the audit log. Steward has no
// delivery channel yet (the webhook outbox comes later), so it says so
// instead of pretending to have sent anything.
func (s *Users) recordNotification(ctx context.Context, uid string, p notifyParams) (string, error) {
	err := s.update(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, uid)
		if err != nil {
			return notFound(err, "user", uid)
		}
		if u.Status == steward.StatusDeleted {
			return invalidState(u, s.now(), "notify")
		}
		return s.audit(ctx, tx, event{Action: "user.notify_requested", TargetType: "user", TargetID: uid,
			TenantID: u.TenantID, Metadata: map[string]any{"subject": p.Subject, "message": p.Message, "delivered": false}})
	})
	if err != nil {
		return "", err
	}
	return "recorded; not delivered: no delivery channel is configured", nil
}

// SweepExpiredBans implements steward.UserService. It runs as the system.
func (s *Users) SweepExpiredBans(ctx context.Context) (int, error) {
	ctx = steward.WithActor(ctx, steward.SystemActor)
	total := 0
	for {
		users, err := s.store.ListUsersBanExpired(ctx, s.now(), 100)
		if err != nil || len(users) == 0 {
			return total, err
		}
		lifted := total
		for _, cand := range users {
			err := s.update(ctx, func(tx store.Tx) error {
				u, err := tx.GetUser(ctx, cand.ID)
				if errors.Is(err, store.ErrNotFound) {
					return nil // purged meanwhile
				}
				if err != nil || !u.BanExpired(s.now()) {
					return err // changed meanwhile: nothing to lift
				}
				before := cloneUser(u)
				u.Status, u.Ban, u.UpdatedAt = steward.StatusActive, nil, s.now()
				ev := event{Action: "user.ban_expired", TargetType: "user", TargetID: u.ID,
					TenantID: u.TenantID, Metadata: map[string]any{"expired_at": before.Ban.ExpiresAt}}
				if err := s.holdIfTenantInactive(ctx, tx, u, &ev); err != nil {
					return err
				}
				if err := tx.UpdateUser(ctx, u); err != nil {
					return err
				}
				total++
				ev.Changes = userDiff(before, u)
				return s.audit(ctx, tx, ev)
			})
			if err != nil {
				return total, err
			}
		}
		if total == lifted {
			return total, nil // the rest changed under us; the next sweep sees them
		}
	}
}
