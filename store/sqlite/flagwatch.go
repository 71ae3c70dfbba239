package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/stewardhq/steward/store"
)

// ForeignWriteCheck is how often a watching Store asks SQLite whether
// another process committed to the file: the break-glass commands
// (`steward operator reset-password`, `unlock`) may write beside a running
// server. It bounds how long the server's caches can serve what such a
// write changed.
const ForeignWriteCheck = 250 * time.Millisecond

// flagWatch is the store's one watcher.
type flagWatch struct {
	mu     sync.Mutex
	fn     func(string)
	cancel context.CancelFunc
	done   chan struct{}
}

var _ store.FlagWatcher = (*Store)(nil)

// WatchFlags implements store.FlagWatcher. The keys this process's
// transactions notify are delivered once each commits (Update), as
// PostgreSQL delivers a replica's own notifications. A write by another
// process cannot say what it changed: the writer connection's
// PRAGMA data_version moves only when another connection commits (this
// process writes through that one connection alone), so it is polled every
// ForeignWriteCheck and a move delivers FlagsReset: drop everything. The
// first FlagsReset is delivered before WatchFlags returns, and another after
// the first poll, which has nothing to compare with (so a write in between is
// not missed). Only the first call's fn is used.
func (s *Store) WatchFlags(fn func(key string)) {
	w := &s.flags
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fn != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The first successful poll drops everything, whatever it reads: the
	// version is not read here, since the caller may be inside a write
	// transaction holding the writer connection that read needs (a first
	// cache use within core.update).
	last := int64(-1)
	w.fn, w.cancel, w.done = fn, cancel, make(chan struct{})
	fn(store.FlagsReset)
	go func() {
		defer close(w.done)
		t := time.NewTicker(ForeignWriteCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			v, err := s.dataVersion(ctx)
			if err != nil {
				continue // closing, or busy: the next poll compares with the last good value
			}
			if v != last {
				fn(store.FlagsReset)
				last = v
			}
		}
	}()
}

func (s *Store) dataVersion(ctx context.Context) (v int64, err error) {
	err = s.writer.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
	return v, err
}

// watcher returns the watching fn, nil when nothing watches.
func (w *flagWatch) watcher() func(string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fn
}

// stop ends the poll, if one runs, and waits for it.
func (w *flagWatch) stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
