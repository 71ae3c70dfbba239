package service

import (
	"fmt"
	"regexp"
	"strings"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/stewardhq/steward"
)

// ActionProblem is one thing wrong with a configured action: its index in
// the list, the configuration key, and what is wrong.
type ActionProblem struct {
	Index int
	Name  string
	Key   string
	Msg   string
}

func (p ActionProblem) Error() string {
	if p.Name != "" {
		return fmt.Sprintf("actions[%d] (%s): key %s: %s", p.Index, p.Name, p.Key, p.Msg)
	}
	return fmt.Sprintf("actions[%d]: key %s: %s", p.Index, p.Key, p.Msg)
}

var actionNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// maxActionLabel bounds an action's label.
const maxActionLabel = 128

// CheckAdminActions validates configured actions and returns them with
// their defaults (label the name, min_role admin, timeout 10s). tables are
// the data admin's configured table names: a target is one of them,
// "user" or "tenant". The url follows the webhook address policy p.
func CheckAdminActions(actions []steward.AdminAction, tables []string, p WebhookAddressPolicy) ([]steward.AdminAction, []ActionProblem) {
	var probs []ActionProblem
	seen := map[string]bool{}
	out := make([]steward.AdminAction, 0, len(actions))
	for i, a := range actions {
		bad := func(key, msg string) {
			probs = append(probs, ActionProblem{Index: i, Name: a.Name, Key: key, Msg: msg})
		}
		switch {
		case !actionNameRe.MatchString(a.Name):
			bad("name", "must be 1 to 64 of a-z, 0-9, _ and -")
		case seen[a.Name]:
			bad("name", "is already used by another action")
		}
		seen[a.Name] = true
		if msg := steward.CheckText(a.Label, false); msg != "" {
			bad("label", msg)
		} else if len(a.Label) > maxActionLabel {
			bad("label", fmt.Sprintf("must be at most %d bytes", maxActionLabel))
		}
		switch {
		case a.Target == "":
			bad("target", `is required: a data table's name, "user" or "tenant"`)
		case a.Target == "user" || a.Target == "tenant":
		default:
			found := false
			for _, t := range tables {
				found = found || t == a.Target
			}
			if !found {
				bad("target", fmt.Sprintf(`names no table of [[data.tables]]: want one of them, "user" or "tenant" (tables: %s)`,
					strings.Join(tables, ", ")))
			}
		}
		if a.MinRole != "" && !a.MinRole.IsOperator() {
			bad("min_role", "must be one of support, admin, owner, super_admin")
		}
		if u, err := p.checkURL(a.URL); err != nil {
			bad("url", fieldMsg(err, "url"))
		} else {
			a.URL = u
		}
		if a.Timeout < 0 || a.Timeout > MaxActionTimeout.Milliseconds() {
			bad("timeout", "must be more than 0 and at most "+MaxActionTimeout.String())
		}
		switch {
		case a.Secret == "":
			bad("secret", `is required: "whsec_" and base64 (or secret_env naming a variable that holds it)`)
		case !strings.HasPrefix(a.Secret, "whsec_"):
			bad("secret", `must start with "whsec_"`)
		default:
			if _, err := standardwebhooks.NewWebhook(a.Secret); err != nil || len(a.Secret) < len("whsec_")+24 {
				bad("secret", `must be "whsec_" and at least 18 random bytes in base64`)
			}
		}
		out = append(out, withActionDefaults(a))
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return out, nil
}

// fieldMsg is the message a FieldError gives field.
func fieldMsg(err error, field string) string {
	if se, ok := err.(*steward.Error); ok {
		if fields, ok := se.Details["fields"].(map[string]any); ok {
			if msg, ok := fields[field].(string); ok {
				return msg
			}
		}
	}
	return err.Error()
}
