package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
)

// BenchmarkPlatformFeaturesHTTP is the whole handler path of GET
// /platform/features?user_id= (middleware, the caller's key, the cache,
// resolution, encoding) on SQLite, without the network:
//
//	go test -run '^$' -bench PlatformFeaturesHTTP -benchmem ./api/
func BenchmarkPlatformFeaturesHTTP(b *testing.B) {
	a := apptest.New(b, testdb.Backends(b)[0])
	tn, err := a.Svc.Tenants.CreateTenant(apptest.System(), &steward.TenantCreate{Name: "Bench", Plan: "pro"})
	if err != nil {
		b.Fatal(err)
	}
	u := a.User(steward.RoleUser, func(in *steward.UserCreate) { in.TenantID = tn.ID })
	if _, err := a.Svc.Features.UpdateUserFeatures(apptest.System(), u.ID, map[string]any{"api_access": false}); err != nil {
		b.Fatal(err)
	}
	caller, err := a.Svc.Keys.CreateKey(apptest.As(a.Root), &steward.KeyCreate{Name: "product", Type: steward.KeyPlatform,
		Scopes: []steward.Permission{steward.PermFeaturesRead}})
	if err != nil {
		b.Fatal(err)
	}
	h := a.Server.Config.Handler
	path := "/api/v1/platform/features?user_id=" + u.ID
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+caller.Key)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"api_access":false`) {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}
