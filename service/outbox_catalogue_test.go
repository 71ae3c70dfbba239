package service

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
)

// TestEventCatalogueCoversEveryAction: every audit action the service
// writes (a literal `Action: "…"`, an action-shaped literal of a known
// noun, or a ledger kind) is either announced or listed as not announced,
// never both; event types are unique and follow the noun of their action.
func TestEventCatalogueCoversEveryAction(t *testing.T) {
	known := map[string]bool{}
	nouns := map[string]bool{}
	for _, c := range eventCatalogue {
		if known[c.action] {
			t.Errorf("action %s catalogued twice", c.action)
		}
		known[c.action] = true
		nouns[strings.Split(c.action, ".")[0]] = true
		if strings.Split(c.event, ".")[0] != strings.Split(c.action, ".")[0] {
			t.Errorf("event %s does not keep the noun of %s", c.event, c.action)
		}
	}
	events := map[string]bool{}
	for _, c := range eventCatalogue {
		if events[c.event] {
			t.Errorf("event type %s used twice", c.event)
		}
		events[c.event] = true
	}
	for _, a := range notAnnounced {
		if known[a] {
			t.Errorf("action %s is both announced and not", a)
		}
		known[a] = true
		nouns[strings.Split(a, ".")[0]] = true
	}

	actionLit := regexp.MustCompile(`Action:\s*"([a-z_]+\.[a-z_]+)"`)
	anyLit := regexp.MustCompile(`"([a-z_]+)\.([a-z_]+)"`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "outbox") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range actionLit.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		for _, m := range anyLit.FindAllStringSubmatch(string(b), -1) {
			if nouns[m[1]] && !events[m[0][1:len(m[0])-1]] {
				used[m[1]+"."+m[2]] = true
			}
		}
	}
	for _, k := range []steward.LedgerKind{steward.LedgerGrant, steward.LedgerDeduct, steward.LedgerRefund,
		steward.LedgerExpire, steward.LedgerAdjust} {
		used["credits."+string(k)] = true
	}
	var missing []string
	for a := range used {
		if !known[a] {
			missing = append(missing, a)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("audit actions neither in eventCatalogue nor in notAnnounced: %v", missing)
	}
}
