package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/sqlite"
)

const exportPath = "/api/v1/admin/audit-log/export?format=ndjson"

// seedAudit appends n entries of about size bytes each, in transactions of
// 50, so an export has far more to send than socket buffers hold.
func seedAudit(t *testing.T, st store.Store, n, size int) {
	t.Helper()
	reason := strings.Repeat("x", size)
	for n > 0 {
		batch := min(n, 50)
		n -= batch
		err := st.Update(context.Background(), func(tx store.Tx) error {
			for range batch {
				seq, prev, err := tx.LockAuditHead(context.Background())
				if err != nil {
					return err
				}
				e := &steward.AuditEntry{ID: fmt.Sprintf("aud_seed%016d", seq+1), Seq: seq + 1, PrevHash: prev,
					Time: apptest.Start, ActorType: steward.ActorSystem, ActorID: "system", Action: "test.seed",
					Reason: reason}
				e.Hash = e.ComputeHash()
				if err := tx.InsertAudit(context.Background(), e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// serveAPI serves a's service through a handler of its own, with lr as the
// long-read limits, on a real http.Server; connState, if not nil, hears of
// every connection's state changes.
func serveAPI(t *testing.T, a *apptest.App, lr api.LongReads, connState func(net.Conn, http.ConnState)) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewUnstartedServer(api.NewServer(api.Deps{Users: a.Svc.Users, Sessions: a.Svc.Sessions, Audit: a.Svc.Audit, Auth: a.Svc.Auth,
		Keys: a.Svc.Keys, Tenants: a.Svc.Tenants, Credits: a.Svc.Credits, Idem: a.Svc.Idempotency, Ready: a.Store.Ping, Logger: log, LongReads: lr}))
	srv.Config.ConnState = connState
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// stallExport starts an export on a raw connection with a small receive
// buffer, reads the status line (so the handler has taken its budget slot)
// and then reads nothing more. The connection closes when the test ends.
func stallExport(t *testing.T, srv *httptest.Server, token string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: steward\r\nAuthorization: Bearer %s\r\n\r\n", exportPath, token)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(conn, 16).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("stalled export: status line %q, err %v", line, err)
	}
	return conn
}

// call sends one request with a deadline and returns its status, or fails
// the test when no answer comes in time.
func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer after %v: %v", method, path, time.Since(start), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// TestSlowReadersStarveNothing: as many clients as the long-read budget
// allows start an export and stop reading. Meanwhile /readyz, /auth/me and
// login answer at once, one more export is refused with 429 and
// Retry-After, and on SQLite 12 MB written during the stall leave the WAL
// under 8 MiB. Before exports read in pages, four such clients held every
// database reader and the WAL grew with every write.
func TestSlowReadersStarveNothing(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, b)
			seedAudit(t, a.Store, 2000, 4000) // an 8 MB export
			const budget = 4                  // as many as SQLite's readers and the PostgreSQL pool
			srv := serveAPI(t, a, api.LongReads{Max: budget, StallTimeout: time.Minute}, nil)
			for range budget {
				stallExport(t, srv, a.RootToken)
			}

			status, hdr, raw := call(t, srv, "GET", exportPath, a.RootToken, "")
			var e struct {
				Code       string `json:"code"`
				RetryAfter int    `json:"retry_after"`
			}
			_ = json.Unmarshal(raw, &e)
			if status != http.StatusTooManyRequests || e.Code != steward.CodeRateLimited || e.RetryAfter <= 0 ||
				hdr.Get("Retry-After") != fmt.Sprint(e.RetryAfter) {
				t.Errorf("export past the budget = %d %s (Retry-After %q), want 429 RATE_LIMITED with Retry-After",
					status, raw, hdr.Get("Retry-After"))
			}
			if status, _, raw := call(t, srv, "GET", "/api/v1/admin/audit-log/verify", a.RootToken, ""); status != http.StatusTooManyRequests {
				t.Errorf("verify with the long-read budget full = %d %s, want 429", status, raw)
			}

			login := `{"email":"root@example.com","password":"` + apptest.Password + `"}`
			var slowest time.Duration
			for i := range 3 {
				for _, c := range []struct {
					method, path, token, body string
				}{
					{"GET", "/readyz", "", ""},
					{"GET", "/api/v1/auth/me", a.RootToken, ""},
					{"POST", "/api/v1/auth/login", "", login},
					{"GET", "/api/v1/admin/audit-log?limit=5", a.RootToken, ""},
				} {
					start := time.Now()
					status, _, raw := call(t, srv, c.method, c.path, c.token, c.body)
					if status != http.StatusOK {
						t.Errorf("round %d: %s %s with exports stalled = %d %s, want 200", i, c.method, c.path, status, raw)
					}
					d := time.Since(start)
					if d > 2*time.Second {
						t.Errorf("round %d: %s %s took %v with exports stalled", i, c.method, c.path, d)
					}
					slowest = max(slowest, d)
				}
			}
			t.Logf("slowest answer with %d exports stalled: %v", budget, slowest)

			if s, ok := a.Store.(*sqlite.Store); ok {
				seedAudit(t, a.Store, 3000, 4000) // 12 MB of rows, more WAL
				fi, err := os.Stat(s.Path() + "-wal")
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("WAL after 12 MB of writes during stalled exports: %d bytes", fi.Size())
				if fi.Size() > 8<<20 {
					t.Errorf("WAL = %d bytes after 12 MB of writes during stalled exports, want under 8 MiB", fi.Size())
				}
			}

			// The stalled clients still hold their slots: they were hanging
			// throughout.
			if status, _, _ := call(t, srv, "GET", exportPath, a.RootToken, ""); status != http.StatusTooManyRequests {
				t.Errorf("export after the checks = %d, want 429 (the stalled exports should still hold the budget)", status)
			}
		})
	}
}

// TestStalledExportIsCutOff: a client that stops reading is cut off once a
// chunk has waited the stall timeout: the server closes its connection and
// its budget slot is free again.
func TestStalledExportIsCutOff(t *testing.T) {
	for _, b := range testdb.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, b)
			seedAudit(t, a.Store, 2000, 4000)
			closed := make(chan string, 16)
			srv := serveAPI(t, a, api.LongReads{Max: 1, StallTimeout: 200 * time.Millisecond},
				func(c net.Conn, s http.ConnState) {
					if s == http.StateClosed {
						closed <- c.RemoteAddr().String()
					}
				})
			start := time.Now()
			conn := stallExport(t, srv, a.RootToken)
			timeout := time.After(20 * time.Second)
			for addr := ""; addr != conn.LocalAddr().String(); {
				select {
				case addr = <-closed:
				case <-timeout:
					t.Fatal("the server did not close the stalled export's connection in 20 s")
				}
			}
			if d := time.Since(start); d < 200*time.Millisecond {
				t.Errorf("the stalled export was cut off after %v, before its stall timeout", d)
			}
			if status, _, raw := call(t, srv, "GET", "/api/v1/admin/audit-log/verify", a.RootToken, ""); status != http.StatusOK {
				t.Errorf("verify after the stalled export was cut off = %d %s, want 200 (its slot freed)", status, raw)
			}
		})
	}
}

// TestExportStreamsInChunks: a client that reads gets every entry, oldest
// first, across many store pages and stream chunks, in both formats.
func TestExportStreamsInChunks(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		seedAudit(t, a.Store, 1200, 200)
		srv := serveAPI(t, a, api.LongReads{StallTimeout: 5 * time.Second}, nil)
		status, _, raw := call(t, srv, "GET", exportPath, a.RootToken, "")
		if status != http.StatusOK {
			t.Fatalf("export = %d", status)
		}
		var seqs []int64
		dec := json.NewDecoder(bytes.NewReader(raw))
		for dec.More() {
			var e steward.AuditEntry
			if err := dec.Decode(&e); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, e.Seq)
		}
		status, _, raw = call(t, srv, "GET", "/api/v1/admin/audit-log/export?format=csv", a.RootToken, "")
		if status != http.StatusOK {
			t.Fatalf("csv export = %d", status)
		}
		rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// The csv export sees one more entry: the ndjson export's own.
		if len(rows)-1 != len(seqs)+1 || len(seqs) < 1200 {
			t.Fatalf("ndjson %d entries, csv %d rows; want every entry (1200 seeded) in both", len(seqs), len(rows)-1)
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("entry %d has seq %d, want %d (oldest first, none missing)", i, s, i+1)
			}
		}
	})
}
