package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// Custom admin actions (docs/data-admin.md#custom-admin-actions): commands
// the product offers, configured in [[actions]], run by operators through
// POST /admin/actions/{name}. Steward checks, audits and signs the call;
// the product does the work and answers.

// Action call bounds.
const (
	// DefaultActionTimeout is an action's timeout when none is configured;
	// MaxActionTimeout the most one may have (the caller waits for it).
	DefaultActionTimeout = 10 * time.Second
	MaxActionTimeout     = 60 * time.Second
	// maxActionAnswer bounds the product's answer: it is returned as is.
	maxActionAnswer = 1 << 20
	// maxActionTargetID bounds target_id (a data table's path key may be
	// composite).
	maxActionTargetID = 1024
	// actionExcerpt is how much of a failed answer ACTION_FAILED shows.
	actionExcerpt = 1024
)

// Audit actions of a run: action.run is written, and committed, before the
// product is called, so a call is on record even when the product hangs or
// Steward stops mid-call; action.result records how the call ended.
const (
	auditActionRun    = "action.run"
	auditActionResult = "action.result"
)

// Actions implements steward.AdminActionService.
type Actions struct {
	*core
	list   []steward.AdminAction // configuration order, defaults applied
	byName map[string]*steward.AdminAction
	client *http.Client
}

var _ steward.AdminActionService = (*Actions)(nil)

// newActions takes the configured actions (already checked by
// CheckAdminActions) and calls the product through the webhook dialer, so
// the webhook address policy holds at dial time too.
func newActions(c *core, hooks *Webhooks) *Actions {
	s := &Actions{core: c, byName: map[string]*steward.AdminAction{}}
	for _, a := range c.cfg.Actions {
		s.list = append(s.list, withActionDefaults(a))
	}
	for i := range s.list {
		s.byName[s.list[i].Name] = &s.list[i]
	}
	s.client = &http.Client{
		// No client timeout: each call's context carries its action's.
		Transport: &http.Transport{
			Proxy:               nil, // a proxy would dial for us, past the address check
			DialContext:         hooks.dial,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
		},
		// A redirect is a failure: following it would send the call
		// somewhere the operator did not configure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// withActionDefaults fills what the configuration may leave out.
func withActionDefaults(a steward.AdminAction) steward.AdminAction {
	if a.MinRole == "" {
		a.MinRole = steward.RoleAdmin
	}
	if a.Label == "" {
		a.Label = a.Name
	}
	if a.Timeout <= 0 {
		a.Timeout = DefaultActionTimeout.Milliseconds()
	}
	return a
}

// For lists the actions role may run on target, in configuration order:
// what the data admin's schema document shows per table (and for "user"
// and "tenant").
func (s *Actions) For(target string, role steward.Role) []steward.AdminAction {
	out := []steward.AdminAction{}
	for _, a := range s.list {
		if a.Target == target && mayRun(role, a) {
			out = append(out, shown(a))
		}
	}
	return out
}

// shown is a without what callers never see (its URL, timeout and
// secret), so that no answer can carry them whatever encodes it.
func shown(a steward.AdminAction) steward.AdminAction {
	a.URL, a.Timeout, a.Secret = "", 0, ""
	return a
}

func mayRun(role steward.Role, a steward.AdminAction) bool {
	return role.IsOperator() && role.Rank() >= a.MinRole.Rank()
}

// ListActions implements steward.AdminActionService: the actions the
// caller's role may run, by target.
func (s *Actions) ListActions(ctx context.Context) (map[string][]steward.AdminAction, error) {
	a, err := authorize(ctx, steward.PermUsersRead)
	if err != nil {
		return nil, err
	}
	out := map[string][]steward.AdminAction{}
	for _, act := range s.list {
		if mayRun(a.Role, act) {
			out[act.Target] = append(out[act.Target], shown(act))
		}
	}
	return out, nil
}

// actionRequest is the body the product receives.
type actionRequest struct {
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	TargetID  string          `json:"target_id"`
	Payload   json.RawMessage `json:"payload"`
	Actor     actionActor     `json:"actor"`
	RequestID string          `json:"request_id"`
}

type actionActor struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

// RunAction implements steward.AdminActionService.
func (s *Actions) RunAction(ctx context.Context, name string, call steward.AdminActionCall) (json.RawMessage, error) {
	caller, err := authorize(ctx, steward.PermUsersRead)
	if err != nil {
		return nil, err
	}
	act, ok := s.byName[name]
	if !ok {
		return nil, &steward.Error{Code: steward.CodeActionNotFound, Message: "no admin action named " + strconv.Quote(name),
			Details: map[string]any{"action": name}}
	}
	// The role first, so that a caller who may not run the action learns
	// nothing from the validation of its input; re-checked in the
	// transaction against the stored role.
	if err := roleAllows(caller, act); err != nil {
		return nil, err
	}
	payload, err := checkActionCall(call)
	if err != nil {
		return nil, err
	}
	var actor steward.Actor
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.currentActor(ctx, tx, steward.PermUsersRead)
		if err != nil {
			return err
		}
		if err := roleAllows(a, act); err != nil {
			return err
		}
		if a.ImpersonatorID != "" && !act.ReadOnly {
			sess, err := tx.GetSession(ctx, a.CredentialID)
			if err != nil {
				return firstErr(notFound(err, "session", a.CredentialID), errUnauthenticated)
			}
			if sess.ReadOnly {
				return impersonationWriteDenied()
			}
		}
		tenantID, err := actionTargetTenant(ctx, tx, act.Target, call.TargetID)
		if err != nil {
			return err
		}
		actor = a
		return s.audit(ctx, tx, event{Action: auditActionRun, TargetType: act.Target, TargetID: call.TargetID,
			TenantID: tenantID, Metadata: map[string]any{"action": act.Name, "payload": payload}})
	})
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(actionRequest{Action: act.Name, Target: act.Target, TargetID: call.TargetID,
		Payload: payload, Actor: actionActor{ID: actor.ID, Role: string(actor.Role)},
		RequestID: steward.RequestInfoFrom(ctx).RequestID})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	answer, status, callErr := s.call(ctx, act, body)
	s.recordResult(ctx, act, call.TargetID, status, callErr, time.Since(start))
	if callErr != nil {
		return nil, callErr
	}
	return answer, nil
}

// roleAllows is INSUFFICIENT_ROLE when a's role is below the action's
// min_role.
func roleAllows(a steward.Actor, act *steward.AdminAction) error {
	if mayRun(a.Role, *act) {
		return nil
	}
	return &steward.Error{Code: steward.CodeInsufficientRole,
		Message: "the action " + act.Name + " needs the role " + string(act.MinRole) + " or higher",
		Details: map[string]any{"action": act.Name, "min_role": string(act.MinRole), "your_role": string(a.Role)}}
}

// checkActionCall validates target_id and the payload (a JSON object,
// bounded like user metadata; absent or null is {}).
func checkActionCall(call steward.AdminActionCall) (json.RawMessage, error) {
	fe := steward.FieldErrors{}
	switch {
	case call.TargetID == "":
		fe.Add("target_id", "is required")
	case len(call.TargetID) > maxActionTargetID:
		fe.Add("target_id", "must be at most "+strconv.Itoa(maxActionTargetID)+" bytes")
	default:
		if msg := steward.CheckText(call.TargetID, false); msg != "" {
			fe.Add("target_id", msg)
		}
	}
	payload := bytes.TrimSpace(call.Payload)
	if len(payload) == 0 || string(payload) == "null" {
		payload = []byte("{}")
	}
	if msg := steward.CheckRawJSON(payload); msg != "" {
		fe.Add("payload", msg)
	} else if payload[0] != '{' {
		fe.Add("payload", "must be a JSON object")
	}
	if len(fe) > 0 {
		return nil, fe.Err()
	}
	return payload, nil
}

// actionTargetTenant checks that a user or tenant target exists and
// returns its tenant, for the audit entry. A data table's row is the
// product's: its key is passed on as given.
func actionTargetTenant(ctx context.Context, tx store.Tx, target, targetID string) (string, error) {
	switch target {
	case "user":
		u, err := tx.GetUser(ctx, targetID)
		if err != nil {
			return "", notFound(err, "user", targetID)
		}
		return u.TenantID, nil
	case "tenant":
		if _, err := tx.GetTenant(ctx, targetID); err != nil {
			return "", notFound(err, "tenant", targetID)
		}
		return targetID, nil
	}
	return "", nil
}

// call sends the signed request and returns the product's answer, or
// ACTION_FAILED saying why; status is the HTTP status (0 when there was
// no answer).
func (s *Actions) call(ctx context.Context, act *steward.AdminAction, body []byte) (json.RawMessage, int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(act.Timeout)*time.Millisecond)
	defer cancel()
	now := s.now()
	msgID := id.New("msg", now)
	sig, err := signWith([]string{act.Secret}, msgID, now, body)
	if err != nil {
		return nil, 0, actionFailed(act, 0, "signing: "+err.Error(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, act.URL, bytes.NewReader(body))
	if err != nil {
		return nil, 0, actionFailed(act, 0, err.Error(), nil)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Steward-Actions/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, msgID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "no answer within " + (time.Duration(act.Timeout) * time.Millisecond).String() + ": " + msg
		}
		return nil, 0, actionFailed(act, 0, msg, nil)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxActionAnswer+1))
	status := resp.StatusCode
	switch {
	case err != nil:
		return nil, status, actionFailed(act, status, "reading the answer: "+err.Error(), raw)
	case status < 200 || status > 299:
		return nil, status, actionFailed(act, status, "answered "+resp.Status, raw)
	case len(raw) > maxActionAnswer:
		return nil, status, actionFailed(act, status, "the answer is larger than 1 MiB", raw)
	}
	answer := bytes.TrimSpace(raw)
	if !utf8.Valid(answer) || !json.Valid(answer) || len(answer) == 0 || answer[0] != '{' {
		return nil, status, actionFailed(act, status, "the answer is not a JSON object", raw)
	}
	return answer, status, nil
}

// actionFailed is ACTION_FAILED with the status, the error and an excerpt
// of the answer.
func actionFailed(act *steward.AdminAction, status int, msg string, answer []byte) error {
	if len(answer) > actionExcerpt {
		answer = answer[:actionExcerpt]
	}
	return &steward.Error{Code: steward.CodeActionFailed, Message: "the action " + act.Name + " failed: " + msg,
		Details: map[string]any{"action": act.Name, "status": status, "error": msg,
			"response": strings.ToValidUTF8(string(answer), "\uFFFD")}}
}

// recordResult writes action.result: the status and error of the call,
// not the answer (the product's to keep). The call has happened whatever
// this does, so a failure here is logged, not returned; it is written
// even when the caller went away.
func (s *Actions) recordResult(ctx context.Context, act *steward.AdminAction, targetID string, status int, callErr error, took time.Duration) {
	meta := map[string]any{"action": act.Name, "status": status, "ok": callErr == nil,
		"latency_ms": took.Milliseconds()}
	var se *steward.Error
	if errors.As(callErr, &se) {
		meta["error"] = se.Details["error"]
	}
	ctx = context.WithoutCancel(ctx)
	err := s.update(ctx, func(tx store.Tx) error {
		return s.audit(ctx, tx, event{Action: auditActionResult, TargetType: act.Target, TargetID: targetID, Metadata: meta})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "recording an admin action's result", "action", act.Name, "target_id", targetID, "err", err)
	}
}
