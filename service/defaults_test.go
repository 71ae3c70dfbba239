package service_test

import (
	"slices"
	"testing"

	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/service"
)

// TestDefaultsAreFreshCopies: a caller that changes the defaults it was
// handed changes nobody else's.
func TestDefaultsAreFreshCopies(t *testing.T) {
	for name, get := range map[string]func() []string{
		"DefaultUserKeyScopes": service.DefaultUserKeyScopes,
		"DefaultKeyPurposes":   service.DefaultKeyPurposes,
	} {
		first := get()
		want := slices.Clone(first)
		first[0] = "changed"
		_ = append(first[:1], "appended")
		if got := get(); !slices.Equal(got, want) {
			t.Errorf("%s after a caller changed its copy: %v, want %v", name, got, want)
		}
	}
	p := password.Default()
	p.MemoryKiB = 1
	if password.Default().MemoryKiB != 64*1024 {
		t.Error("password.Default changed by a caller")
	}
}
