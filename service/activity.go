package service

import (
	"context"
	"sync"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// activityLog collects which users were active in which UTC hour, in
// memory: a login, a refresh, a session or an API key verified. Each
// (user, hour) is queued once per process and FlushActivity writes the
// queue in one transaction, so no request writes for it. The cost is a
// map entry per user active this hour.
type activityLog struct {
	mu      sync.Mutex
	seen    map[string]time.Time // user → the hour last queued
	pending map[activityKey]struct{}
}

type activityKey struct {
	user string
	hour time.Time
}

// record notes that user was active at now.
func (l *activityLog) record(user string, now time.Time) {
	if user == "" {
		return
	}
	hour := now.Truncate(time.Hour)
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.seen[user]; ok && h.Equal(hour) {
		return
	}
	if l.seen == nil {
		l.seen, l.pending = map[string]time.Time{}, map[activityKey]struct{}{}
	}
	l.seen[user] = hour
	l.pending[activityKey{user, hour}] = struct{}{}
}

// session records the user of a live session; an impersonation's session
// is the operator at work, not the user.
func (l *activityLog) session(sess *steward.Session, now time.Time) {
	if sess.ImpersonationID == "" {
		l.record(sess.UserID, now)
	}
}

// take empties the queue and forgets users not seen since before now's
// hour, which bounds seen by the users of the current hour.
func (l *activityLog) take(now time.Time) []activityKey {
	hour := now.Truncate(time.Hour)
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]activityKey, 0, len(l.pending))
	for k := range l.pending {
		out = append(out, k)
	}
	clear(l.pending)
	for u, h := range l.seen {
		if h.Before(hour) {
			delete(l.seen, u)
		}
	}
	return out
}

// putBack queues keys again after a failed flush.
func (l *activityLog) putBack(keys []activityKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.seen, l.pending = map[string]time.Time{}, map[activityKey]struct{}{}
	}
	for _, k := range keys {
		l.pending[k] = struct{}{}
	}
}

// activityBatch bounds the pairs one flush transaction writes.
const activityBatch = 5_000

// FlushActivity writes the queued activity. Bookkeeping, not audited. serve
// calls it every KeyUseFlushInterval and at shutdown, like FlushKeyUses:
// that interval (plus one flush) is how late activity reaches the
// database.
func (s *Series) FlushActivity(ctx context.Context) error {
	keys := s.activity.take(s.now())
	for len(keys) > 0 {
		n := min(len(keys), activityBatch)
		users, hours := make([]string, n), make([]time.Time, n)
		for i, k := range keys[:n] {
			users[i], hours[i] = k.user, k.hour
		}
		if err := s.update(ctx, func(tx store.Tx) error { return tx.RecordActivity(ctx, users, hours) }); err != nil {
			s.activity.putBack(keys)
			return err
		}
		keys = keys[n:]
	}
	return nil
}
