package store

import (
	"context"
	"time"
)

// FlagQueries read the user tier of the feature flags (service/flags.go).
type FlagQueries interface {
	// UserFeatures returns the user's flag overrides as stored, an empty
	// map when there are none.
	UserFeatures(ctx context.Context, userID string) (map[string]any, error)
}

// FlagTx write the user tier, and tell every replica that an input of
// the flags changed.
type FlagTx interface {
	// SetUserFeatures stores the user's overrides; an empty map deletes
	// the row. The user must exist.
	SetUserFeatures(ctx context.Context, userID string, features map[string]any, now time.Time) error
	// NotifyFlags tells every process watching the database (FlagWatcher),
	// once the transaction commits, that what each key names changed; a
	// rolled back transaction tells nothing. PostgreSQL: pg_notify, one
	// notification per key, in one statement. SQLite: to this process's
	// watcher, after the commit.
	NotifyFlags(ctx context.Context, keys ...string) error
}

// FlagWatcher delivers the NotifyFlags keys of committed transactions to
// this process's caches: on PostgreSQL every replica's (a LISTEN), on
// SQLite this process's own, and a FlagsReset when another process wrote
// the file (which cannot say what it changed).
type FlagWatcher interface {
	// WatchFlags starts, once, a listener on a connection of its own that
	// calls fn with each key notified after this call, or with
	// FlagsReset each time the listener (re)connects — notifications
	// may have been missed while it was away — and FlagsDown when it loses
	// its connection. fn runs on the listener's goroutine and must not
	// block. The listener stops when the store is closed.
	WatchFlags(fn func(key string))
}

// The keys WatchFlags delivers besides the notified ones.
const (
	FlagsReset = "*reset"
	FlagsDown  = "*down"
)
