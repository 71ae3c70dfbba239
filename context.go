package steward

import (
	"context"
	"slices"
)

// Actor is who performs a request, resolved fresh from the database on every
// admin request so a role change takes effect on the very next call.
type Actor struct {
	Type           string // ActorOperator, ActorUser or ActorSystem
	ID             string
	Role           Role
	CredentialID   string // session or key id the request came with
	ImpersonatorID string
	// Scopes caps what a request made with an API key may do; nil for
	// sessions, which carry the whole role.
	Scopes []Permission
}

// Can reports whether the actor's role and, for a key, its scopes both allow p.
func (a Actor) Can(p Permission) bool {
	if !a.Role.Can(p) {
		return false
	}
	return a.Scopes == nil || slices.Contains(a.Scopes, PermAll) || slices.Contains(a.Scopes, p)
}

// SystemActor is used by background jobs and start-up tasks.
var SystemActor = Actor{Type: ActorSystem, ID: "system", Role: RoleSuperAdmin}

// RequestInfo is what the audit log records about the transport.
type RequestInfo struct {
	RequestID string
	IP        string
	UserAgent string
}

type ctxKey int

const (
	actorKey ctxKey = iota
	requestKey
)

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey, a)
}

// ActorFrom returns the actor in ctx and whether there is one.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey).(Actor)
	return a, ok
}

// WithRequestInfo returns ctx carrying ri.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestKey, ri)
}

// RequestInfoFrom returns the request info in ctx (zero when absent).
func RequestInfoFrom(ctx context.Context) RequestInfo {
	ri, _ := ctx.Value(requestKey).(RequestInfo)
	return ri
}
