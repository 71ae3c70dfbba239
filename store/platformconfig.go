package store

import (
	"context"
	"encoding/json"
)

// PlatformConfigQueries read the platform configuration's stored sections
// (service/platformconfig.go).
type PlatformConfigQueries interface {
	// PlatformSettings returns each stored section's document; a section
	// without a row has its defaults.
	PlatformSettings(ctx context.Context) (map[string]json.RawMessage, error)
}

// PlatformConfigTx write the platform configuration.
type PlatformConfigTx interface {
	// LockPlatformSettings makes the rest of the transaction the only
	// writer of the platform configuration and returns the stored sections,
	// so a merge patch is applied to what is current.
	LockPlatformSettings(ctx context.Context) (map[string]json.RawMessage, error)
	// SetPlatformSetting stores a section's document, or deletes its row
	// (back to the defaults) when doc is nil.
	SetPlatformSetting(ctx context.Context, section string, doc json.RawMessage) error
}
