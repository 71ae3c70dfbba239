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

// BenchmarkVerifyHTTP is the whole handler path of POST /platform/keys/verify
// (middleware, caller authentication, decoding, verification, encoding),
// without the network:
//
//	go test -run '^$' -bench VerifyHTTP -benchmem ./api/
func BenchmarkVerifyHTTP(b *testing.B) {
	be := testdb.Backends(b)[0]
	a := apptest.New(b, be)
	u := a.User(steward.RoleUser)
	caller, err := a.Svc.Keys.CreateKey(apptest.As(a.Root), &steward.KeyCreate{Name: "caller", Type: steward.KeyPlatform,
		Scopes: []steward.Permission{steward.PermKeysVerify}})
	if err != nil {
		b.Fatal(err)
	}
	k, err := a.Svc.Keys.CreateKey(apptest.System(), &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID})
	if err != nil {
		b.Fatal(err)
	}
	h := a.Server.Config.Handler
	body := `{"key":"` + k.Key + `","ip":"10.1.2.3"}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/platform/keys/verify", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+caller.Key)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"VALID"`) {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}
