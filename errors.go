// Package steward holds Steward's domain: the types every layer shares, their
// validation, the service contracts and the one error type with its codes.
// It depends on the standard library only, so products importing the SDK or
// the verify package pull in no database driver.
package steward

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. api/errors.go maps each to one HTTP status; an error that is
// not a *Error becomes INTERNAL and its cause goes to the log only.
const (
	CodeBadRequest           = "BAD_REQUEST"           // 400 malformed request
	CodeConfirmationRequired = "CONFIRMATION_REQUIRED" // 400 destructive call without confirm=true
	CodeInsufficientCredits  = "INSUFFICIENT_CREDITS"  // 402 the unexpired balance is short
	CodeSpendingCapReached   = "SPENDING_CAP_REACHED"  // 402 the tenant's daily or monthly cap is spent
	CodeUnauthenticated      = "UNAUTHENTICATED"       // 401 missing or unknown credential
	CodeInvalidCredentials   = "INVALID_CREDENTIALS"   // 401 login failed (never says which part)
	CodeForbidden            = "FORBIDDEN"             // 403 valid credential without the permission
	CodePlatformSwitchOff    = "PLATFORM_SWITCH_OFF"   // 403 a platform switch turns this off below super_admin; details.switch
	CodeWrongSurface         = "WRONG_SURFACE"         // 403 credential not accepted on this surface
	CodeCannotEscalate       = "CANNOT_ESCALATE"       // 403
	CodeInsufficientRole     = "INSUFFICIENT_ROLE"     // 403
	// CodeImpersonationWriteDenied: an unsafe request under a read-only
	// impersonation (403), answered by the product's verify middleware.
	CodeImpersonationWriteDenied = "IMPERSONATION_WRITE_DENIED"
	CodeNotFound                 = "NOT_FOUND"              // 404
	CodeMethodNotAllowed         = "METHOD_NOT_ALLOWED"     // 405
	CodeAlreadyExists            = "ALREADY_EXISTS"         // 409
	CodeAlreadyBanned            = "ALREADY_BANNED"         // 409
	CodeInvalidState             = "INVALID_STATE"          // 409 the target is not in a state the action applies to
	CodeIdempotencyKeyReused     = "IDEMPOTENCY_KEY_REUSED" // 409
	CodePayloadTooLarge          = "PAYLOAD_TOO_LARGE"      // 413
	CodeValidation               = "VALIDATION_FAILED"      // 422 details.fields names each bad field
	CodeCannotTargetSelf         = "CANNOT_TARGET_SELF"     // 422
	CodeLastActiveOwner          = "LAST_ACTIVE_OWNER"      // 422
	CodeTenantUserLimit          = "TENANT_USER_LIMIT"      // 422 the tenant is at max_users
	CodeRateLimited              = "RATE_LIMITED"           // 429 details.retry_after in seconds
	CodeUnavailable              = "UNAVAILABLE"            // 503
	CodeInternal                 = "INTERNAL"               // 500
)

// Error is the one error type that crosses layers. Message is a sentence for a
// human; Details carries machine-readable context such as details.fields.
type Error struct {
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, INTERNAL for anything that is not an *Error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// FieldErrors collects validation problems so a caller learns all of them at once.
type FieldErrors map[string]string

// Add records msg for field unless the field already has a problem.
func (f FieldErrors) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns nil when empty, else a VALIDATION_FAILED error naming every field.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	fields := make(map[string]any, len(f))
	for k, v := range f {
		fields[k] = v
	}
	return &Error{
		Code:    CodeValidation,
		Message: "invalid " + strings.Join(names, ", "),
		Details: map[string]any{"fields": fields},
	}
}

// FieldError is a shortcut for a validation error on one field.
func FieldError(field, msg string) error {
	return FieldErrors{field: msg}.Err()
}
