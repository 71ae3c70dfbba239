package steward

import (
	"context"
	"encoding/json"
)

// PlatformConfig is the platform-wide configuration operators change at
// run time (GET /admin/config): one document per section — features,
// quotas, spending, switches — each with its defaults filled in.
type PlatformConfig map[string]any

// PlatformConfigPatch is a JSON merge patch over PlatformConfig, kept raw
// per section so the section's rules name the field of a bad value. A
// section set to null goes back to its defaults.
type PlatformConfigPatch map[string]json.RawMessage

// PlatformConfigService reads and changes the platform configuration
// (docs/configuration.md#platform-configuration).
type PlatformConfigService interface {
	// PlatformConfig reports every section; it needs PermConfigRead.
	PlatformConfig(ctx context.Context) (PlatformConfig, error)
	// UpdatePlatformConfig applies p in one transaction, audited
	// config.update, and reports the result; it needs PermConfigWrite.
	// VALIDATION_FAILED names "section.key" of every bad value, and
	// nothing is stored.
	UpdatePlatformConfig(ctx context.Context, p PlatformConfigPatch) (PlatformConfig, error)
}
