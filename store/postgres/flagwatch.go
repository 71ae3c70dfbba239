package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/stewardhq/steward/store"
)

// Timing of the flag listener. A silently dead connection (no reset from
// the network) is found by a ping after FlagListenerIdle without a
// notification, which must answer within FlagPingTimeout: together they
// bound how long a replica can miss notifications without knowing it.
const (
	FlagListenerIdle = 5 * time.Second
	FlagPingTimeout  = 5 * time.Second
	// flagRetryMax caps the wait between reconnection attempts.
	flagRetryMax = 5 * time.Second
)

// FlagListenerApplication begins the application_name of the listener's
// connection (followed by the search_path when the DSN sets one), so an
// operator (or a test) can find it in pg_stat_activity.
const FlagListenerApplication = "steward-flags-listener"

// flagWatch is the store's one listener.
type flagWatch struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// WatchFlags implements store.FlagWatcher: LISTEN on a dedicated
// connection (not one of the pool's, which are shared and reset), on a
// channel named after the schema so stores of different schemas on one
// database do not hear each other. Only the first call's fn is used.
func (s *Store) WatchFlags(fn func(key string)) {
	w := &s.flags
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		s.listenFlags(ctx, fn)
	}()
}

// stop ends the listener, if one runs, and waits for it.
func (w *flagWatch) stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (s *Store) listenFlags(ctx context.Context, fn func(string)) {
	cfg := s.pool.Config().ConnConfig.Copy()
	app := FlagListenerApplication
	if sp := cfg.RuntimeParams["search_path"]; sp != "" {
		app += " " + sp
	}
	cfg.RuntimeParams["application_name"] = app[:min(len(app), 63)]
	// A wait that times out only sets a deadline on the socket: the
	// default handler would also send the server a cancel request each time.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	retry := 50 * time.Millisecond
	for ctx.Err() == nil {
		if conn, err := pgx.ConnectConfig(ctx, cfg); err == nil {
			if s.listenOn(ctx, conn, fn) {
				retry = 50 * time.Millisecond // it was up: reconnect at once
			}
			conn.Close(context.Background())
		}
		fn(store.FlagsDown)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, flagRetryMax)
	}
}

// listenOn listens on conn until it fails or ctx ends; it reports whether
// the LISTEN took.
func (s *Store) listenOn(ctx context.Context, conn *pgx.Conn, fn func(string)) bool {
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return false
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{"steward_flags:" + schema}.Sanitize()); err != nil {
		return false
	}
	// Listening from here on: whatever was cached before may have missed
	// a notification.
	fn(store.FlagsReset)
	for {
		wctx, cancel := context.WithTimeout(ctx, FlagListenerIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			fn(n.Payload)
			continue
		case ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded):
			return true
		}
		pctx, cancel := context.WithTimeout(ctx, FlagPingTimeout)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return true
		}
	}
}
