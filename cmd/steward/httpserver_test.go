package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestHTTPServerSetsEveryTimeout: every time.Duration field of http.Server
// (the timeouts, including any a later Go adds) and MaxHeaderBytes are set
// by serve's defaults.
func TestHTTPServerSetsEveryTimeout(t *testing.T) {
	var cfg config
	bindConfig(&cobra.Command{}, func(string) string { return "" }, &cfg)
	l := cfg.httpLimits()
	srv := newHTTPServer(http.NotFoundHandler(), l, quiet)
	v := reflect.ValueOf(srv).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type == reflect.TypeFor[time.Duration]() && v.Field(i).Int() <= 0 {
			t.Errorf("http.Server.%s is not set", f.Name)
		}
	}
	if srv.MaxHeaderBytes <= 0 || l.MaxConnections <= 0 {
		t.Errorf("MaxHeaderBytes %d, MaxConnections %d: want both set", srv.MaxHeaderBytes, l.MaxConnections)
	}
}

// serveWith serves handler as serve does, with limits l, on a free port.
// sndbuf, if not 0, is the send buffer of every accepted connection.
func serveWith(t *testing.T, handler http.Handler, l httpLimits, sndbuf int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(handler, l, quiet)
	if sndbuf > 0 {
		ln = smallSendBuffers{ln.(*net.TCPListener), sndbuf}
	}
	go srv.Serve(limitListener(ln, l))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// smallSendBuffers gives accepted connections a small send buffer, so that
// a test's server writes wait on its client's reads, as over a slow link,
// instead of landing in megabytes of kernel buffer.
type smallSendBuffers struct {
	*net.TCPListener
	size int
}

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, c.SetWriteBuffer(l.size)
}

// TestSlowHeadersAreDropped: a client that sends half its headers and
// stops is disconnected at ReadHeaderTimeout.
func TestSlowHeadersAreDropped(t *testing.T) {
	l := defaultHTTPLimits()
	l.ReadHeaderTimeout = 200 * time.Millisecond
	addr := serveWith(t, http.NotFoundHandler(), l, 0)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a client that stopped sending its headers was still connected after 10 s")
	}
}

// TestMaxConnections: past MaxConnections a new connection is not served
// until an open one closes.
func TestMaxConnections(t *testing.T) {
	l := defaultHTTPLimits()
	l.MaxConnections = 2
	addr := serveWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), l, 0)
	get := func(conn net.Conn, wait time.Duration) error {
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := get(c, 10*time.Second); err != nil { // accepted and served; kept alive
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr) // the kernel completes it; the server does not accept it
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	done := make(chan error, 1)
	go func() { done <- get(third, 20*time.Second) }()
	select {
	case err := <-done:
		t.Fatalf("a third connection was served with the limit at two (err %v)", err)
	case <-time.After(300 * time.Millisecond): // absence of an answer: a real wait
	}
	held[0].Close()
	if err := <-done; err != nil {
		t.Errorf("the third connection after one closed: %v", err)
	}
}

// TestStreamOutlivesServerTimeouts: an export to a client that reads
// slowly but steadily runs well past the server's ReadTimeout and
// WriteTimeout and arrives whole: the stream sets its own deadlines.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	apptest.Each(t, func(t *testing.T, a *apptest.App) {
		reason := strings.Repeat("s", 1000)
		err := a.Store.Update(context.Background(), func(tx store.Tx) error {
			for range 600 {
				seq, prev, err := tx.LockAuditHead(context.Background())
				if err != nil {
					return err
				}
				e := &steward.AuditEntry{ID: fmt.Sprintf("aud_slow%016d", seq+1), Seq: seq + 1, PrevHash: prev,
					Time: apptest.Start, ActorType: steward.ActorSystem, ActorID: "system", Action: "test.slow", Reason: reason}
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
		l := defaultHTTPLimits()
		l.ReadTimeout, l.WriteTimeout = 150*time.Millisecond, 150*time.Millisecond
		handler := api.NewServer(api.Deps{Users: a.Svc.Users, Sessions: a.Svc.Sessions, Audit: a.Svc.Audit, Auth: a.Svc.Auth, Keys: a.Svc.Keys,
			Tenants: a.Svc.Tenants, Credits: a.Svc.Credits, Idem: a.Svc.Idempotency, Impersonations: a.Svc.Impersonations, Ready: a.Store.Ping, Logger: quiet,
			LongReads: api.LongReads{StallTimeout: 10 * time.Second}})
		addr := serveWith(t, handler, l, 32<<10)
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/admin/audit-log/export?format=ndjson", nil)
		req.Header.Set("Authorization", "Bearer "+a.RootToken)
		// Small buffers on both ends keep the server's writes waiting on
		// this client's reads, as over a slow link.
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				err = c.(*net.TCPConn).SetReadBuffer(64 << 10)
			}
			return c, err
		}}}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		start := time.Now()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() {
			var e steward.AuditEntry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %d: %v", n+1, err)
			}
			n++
			if n%100 == 0 {
				time.Sleep(100 * time.Millisecond) // a slow client, against real deadlines
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("export cut after %d entries and %v: %v", n, time.Since(start), err)
		}
		if n < 600 {
			t.Errorf("export = %d entries, want at least the 600 seeded", n)
		}
		if d := time.Since(start); d < 3*l.WriteTimeout {
			t.Errorf("the export took %v, not long enough to outlive the server's timeouts", d)
		}
	})
}

// TestLongReadSettings: the settings reach the config from flags and the
// environment, and bad values stop the program with the setting named.
func TestLongReadSettings(t *testing.T) {
	env := map[string]string{"STEWARD_MAX_LONG_READS": "3", "STEWARD_STREAM_STALL_TIMEOUT": "45s"}
	var cfg config
	getenv := func(k string) string { return env[k] }
	cmd := &cobra.Command{}
	bindConfig(cmd, getenv, &cfg)
	if err := cmd.PersistentFlags().Parse([]string{"--max-connections", "77"}); err != nil {
		t.Fatal(err)
	}
	if cfg.longReads() != (api.LongReads{Max: 3, StallTimeout: 45 * time.Second}) || cfg.httpLimits().MaxConnections != 77 {
		t.Errorf("settings = %+v, %d connections", cfg.longReads(), cfg.httpLimits().MaxConnections)
	}
	for _, c := range []struct{ name, val, want string }{
		{"STEWARD_MAX_LONG_READS", "many", "STEWARD_MAX_LONG_READS"},
		{"STEWARD_MAX_LONG_READS", "0", "--max-long-reads"},
		{"STEWARD_STREAM_STALL_TIMEOUT", "30", "STEWARD_STREAM_STALL_TIMEOUT"},
		{"STEWARD_STREAM_STALL_TIMEOUT", "10ms", "--stream-stall-timeout"},
		{"STEWARD_MAX_CONNECTIONS", "0", "--max-connections"},
	} {
		bad := map[string]string{c.name: c.val}
		err := run(context.Background(), []string{"migrate"}, func(k string) string { return bad[k] }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: err = %v, want it refused, naming %s", c.name, c.val, err, c.want)
		}
	}
}
