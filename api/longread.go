package api

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

// Defaults of LongReads.
const (
	DefaultMaxLongReads = 2
	DefaultStallTimeout = 30 * time.Second
)

// longReadRetryAfter is the Retry-After, in seconds, of a long read refused
// because the budget is full: exports take seconds to minutes.
const longReadRetryAfter = 10

// streamChunk is how many bytes a stream buffers before writing them to the
// client, each chunk under a fresh write deadline.
const streamChunk = 32 << 10

// LongReads bounds the requests that read without a bound on their size or
// time (the audit export and the chain verification): how many run at once,
// apart from the request path, and how long a stream may wait for a client
// that stopped reading.
type LongReads struct {
	// Max is how many long reads may run at once; one more is answered 429
	// RATE_LIMITED with Retry-After. Zero means DefaultMaxLongReads.
	Max int
	// StallTimeout is how long writing one chunk of a stream (up to 32 KiB)
	// may take. A client that reads nothing for that long is cut off and
	// its slot freed. Zero means DefaultStallTimeout.
	StallTimeout time.Duration
}

func (l LongReads) withDefaults() LongReads {
	if l.Max <= 0 {
		l.Max = DefaultMaxLongReads
	}
	if l.StallTimeout <= 0 {
		l.StallTimeout = DefaultStallTimeout
	}
	return l
}

// longReadBudget is the semaphore of LongReads.Max slots.
type longReadBudget struct {
	LongReads
	slots chan struct{}
}

func newLongReadBudget(l LongReads) *longReadBudget {
	l = l.withDefaults()
	return &longReadBudget{LongReads: l, slots: make(chan struct{}, l.Max)}
}

// longRead runs h in a slot of the long-read budget, or answers 429 at once
// when every slot is taken: a long read never waits for one, so it cannot
// queue up requests (or connections) behind the ones running.
func (s *server) longRead(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		select {
		case s.longReads.slots <- struct{}{}:
		default:
			return &steward.Error{Code: steward.CodeRateLimited,
				Message: "too many exports and long reads are running at once; retry later",
				Details: map[string]any{"retry_after": longReadRetryAfter, "limit": s.longReads.Max}}
		}
		defer func() { <-s.longReads.slots }()
		return h(w, r)
	}
}

// streamWriter buffers a streamed answer and writes it in chunks of
// streamChunk, extending the connection's write deadline before each, so a
// stream may last as long as its client keeps reading but a client that
// stops is cut off StallTimeout after the last chunk it took. It replaces
// the server's WriteTimeout for the request.
type streamWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
	buf   bytes.Buffer
	// err is the first write error; every later write returns it.
	err error
}

// newStreamWriter returns a streamWriter on w. The server's WriteTimeout
// deadline stays until the first chunk replaces it; net/http clears the
// read deadline itself once a bodiless request has been read.
func newStreamWriter(w http.ResponseWriter, stall time.Duration) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), stall: stall}
}

// clientError marks an error writing to the client, as opposed to reading
// the database.
type clientError struct{ err error }

func (e *clientError) Error() string { return "writing to the client: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

func (sw *streamWriter) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	sw.buf.Write(p)
	if sw.buf.Len() >= streamChunk {
		if err := sw.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what is buffered to the client under a fresh deadline.
func (sw *streamWriter) Flush() error {
	if sw.err != nil {
		return sw.err
	}
	if err := sw.rc.SetWriteDeadline(time.Now().Add(sw.stall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		sw.err = &clientError{err}
		return sw.err
	}
	if sw.buf.Len() > 0 {
		_, err := sw.w.Write(sw.buf.Bytes())
		sw.buf.Reset()
		if err != nil {
			sw.err = &clientError{err}
			return sw.err
		}
	}
	if err := sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		sw.err = &clientError{err}
	}
	return sw.err
}
