package testdb

import (
	"context"
	"os"
	"testing"
)

// PostgresDSN returns a DSN whose search_path is a fresh, empty schema on
// the server named by STEWARD_TEST_POSTGRES, dropped when t ends, for tests
// that start the real binary on PostgreSQL. ok is false when that variable
// is unset (t fails instead when STEWARD_REQUIRE_POSTGRES=1).
func PostgresDSN(t testing.TB) (dsn string, ok bool) {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s=1 but %s is empty", EnvRequirePostgres, EnvPostgres)
		}
		return "", false
	}
	ctx := context.Background()
	if err := ensureTrigram(ctx, base); err != nil {
		t.Fatalf("testdb: pg_trgm: %v", err)
	}
	schema := "t_" + randomHex(8)
	if err := adminExec(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec(ctx, base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("testdb: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema), true
}
