package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[string]int{
	steward.CodeBadRequest:               http.StatusBadRequest,
	steward.CodeConfirmationRequired:     http.StatusBadRequest,
	steward.CodeInsufficientCredits:      http.StatusPaymentRequired,
	steward.CodeSpendingCapReached:       http.StatusPaymentRequired,
	steward.CodeUnauthenticated:          http.StatusUnauthorized,
	steward.CodeInvalidCredentials:       http.StatusUnauthorized,
	steward.CodeForbidden:                http.StatusForbidden,
	steward.CodeWrongSurface:             http.StatusForbidden,
	steward.CodeCannotEscalate:           http.StatusForbidden,
	steward.CodeInsufficientRole:         http.StatusForbidden,
	steward.CodeImpersonationWriteDenied: http.StatusForbidden,
	steward.CodePlatformSwitchOff:        http.StatusForbidden,
	steward.CodeNotFound:                 http.StatusNotFound,
	steward.CodeMethodNotAllowed:         http.StatusMethodNotAllowed,
	steward.CodeAlreadyExists:            http.StatusConflict,
	steward.CodeAlreadyBanned:            http.StatusConflict,
	steward.CodeInvalidState:             http.StatusConflict,
	steward.CodeIdempotencyKeyReused:     http.StatusConflict,
	steward.CodePayloadTooLarge:          http.StatusRequestEntityTooLarge,
	steward.CodeValidation:               http.StatusUnprocessableEntity,
	steward.CodeCannotTargetSelf:         http.StatusUnprocessableEntity,
	steward.CodeLastActiveOwner:          http.StatusUnprocessableEntity,
	steward.CodeTenantUserLimit:          http.StatusUnprocessableEntity,
	steward.CodeRateLimited:              http.StatusTooManyRequests,
	steward.CodeUnavailable:              http.StatusServiceUnavailable,
	steward.CodeInternal:                 http.StatusInternalServerError,
	steward.CodeModelNotFound:            http.StatusNotFound,
	steward.CodeUnsupportedFilterOp:      http.StatusBadRequest,
	steward.CodeFieldRedacted:            http.StatusUnprocessableEntity,
	steward.CodeFieldReadOnly:            http.StatusUnprocessableEntity,
	steward.CodeDeleteDenied:             http.StatusForbidden,
	steward.CodePreconditionFailed:       http.StatusPreconditionFailed,
	steward.CodeActionNotFound:           http.StatusNotFound,
	steward.CodeActionFailed:             http.StatusBadGateway,
	codeClientClosed:                     StatusClientClosed,
}

// StatusClientClosed is the status (nginx's 499) recorded for a request
// that ended because the client hung up or its context's deadline passed:
// its own label in steward_http_requests_total, never counted as a 5xx. The
// client is gone, so nobody reads the answer.
const StatusClientClosed = 499

// codeClientClosed is the error code of that outcome; it never reaches a
// client that is still listening.
const codeClientClosed = "CLIENT_CLOSED_REQUEST"

// errorBody is the flat error shape of every failed answer.
type errorBody struct {
	Code       string         `json:"code"`
	Message    string         `json:"message"`
	Details    map[string]any `json:"details"`
	RequestID  string         `json:"request_id"`
	RetryAfter *int           `json:"retry_after,omitempty"`
}

// writeError renders err. Anything that is not a *steward.Error is logged and
// answered with INTERNAL only.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *steward.Error
	switch {
	case errors.As(err, &e):
	case r.Context().Err() != nil:
		// The client hung up (or its request deadline passed): not a
		// fault of ours, whatever the error says (SQLite reports an
		// interrupted statement without wrapping context.Canceled).
		s.log.DebugContext(r.Context(), "request ended by the client", "err", err, "method", r.Method,
			"path", r.URL.Path, "request_id", requestID(r.Context()))
		e = &steward.Error{Code: codeClientClosed, Message: "the client closed the request"}
	case errors.Is(err, context.DeadlineExceeded):
		// Our own deadline (the ledger batch's) passed while the client
		// still waited: the database stalled.
		s.log.ErrorContext(r.Context(), "deadline exceeded", "err", err, "method", r.Method,
			"path", r.URL.Path, "request_id", requestID(r.Context()))
		e = &steward.Error{Code: steward.CodeUnavailable, Message: "the database did not answer in time; retry",
			Details: map[string]any{"retry_after": 1}}
	case errors.Is(err, store.ErrUnavailable):
		s.log.ErrorContext(r.Context(), "database unavailable", "err", err, "method", r.Method,
			"path", r.URL.Path, "request_id", requestID(r.Context()))
		e = &steward.Error{Code: steward.CodeUnavailable, Message: "the database is not reachable; retry",
			Details: map[string]any{"retry_after": 1}}
	default:
		s.log.ErrorContext(r.Context(), "internal error", "err", err, "method", r.Method,
			"path", r.URL.Path, "request_id", requestID(r.Context()))
		e = &steward.Error{Code: steward.CodeInternal, Message: "internal error; quote the request id when reporting it"}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := errorBody{Code: e.Code, Message: e.Message, Details: e.Details, RequestID: requestID(r.Context())}
	if body.Details == nil {
		body.Details = map[string]any{}
	}
	if ra, ok := e.Details["retry_after"].(int); ok {
		body.RetryAfter = &ra
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	writeJSON(w, status, body)
}
