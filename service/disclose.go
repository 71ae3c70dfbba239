package service

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
)

// ListMyImpersonations implements steward.ImpersonationService: who
// impersonated the signed-in user, when, for how long and why, newest
// first. Off (404) when the deployment set STEWARD_IMPERSONATION_DISCLOSE=false.
func (s *Impersonations) ListMyImpersonations(ctx context.Context, p steward.ListParams) (*steward.Page[*steward.ImpersonationDisclosure], error) {
	if s.cfg.ImpersonationHidden {
		return nil, steward.Errorf(steward.CodeNotFound, "this deployment does not show impersonations to users")
	}
	a, ok := steward.ActorFrom(ctx)
	if !ok || a.ID == "" {
		return nil, steward.Errorf(steward.CodeUnauthenticated, "authentication required")
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rows, err := s.store.ListImpersonations(ctx, steward.ImpersonationFilter{UserID: a.ID, Before: before, Limit: limit + 1})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range rows {
		ids = append(ids, m.OperatorID)
	}
	names := map[string]string{}
	if len(ids) > 0 {
		ops, err := s.store.ListUsersByIDs(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, u := range ops {
			names[u.ID] = u.Name
			if u.Name == "" {
				names[u.ID] = u.Username
			}
		}
	}
	out := make([]*steward.ImpersonationDisclosure, 0, len(rows))
	for _, m := range rows {
		end := m.ExpiresAt
		if m.EndedAt != nil && m.EndedAt.Before(end) {
			end = *m.EndedAt
		}
		if now.Before(end) {
			end = now
		}
		name, ok := names[m.OperatorID]
		if !ok {
			name = "a former operator"
		}
		out = append(out, &steward.ImpersonationDisclosure{ID: m.ID, OperatorID: m.OperatorID, OperatorName: name,
			Reason: m.Reason, ReadOnly: m.ReadOnly, StartedAt: m.StartedAt, ExpiresAt: m.ExpiresAt, EndedAt: m.EndedAt,
			DurationSeconds: int64(end.Sub(m.StartedAt) / time.Second)})
	}
	return page(out, limit, func(x *steward.ImpersonationDisclosure) string { return encodeCursor(x.ID) }), nil
}
