package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/netutil"

	"github.com/stewardhq/steward/api"
)

// httpLimits are the HTTP server's timeouts and size limits. docs/security.md
// (section "timeouts") explains each; keep the two in step.
type httpLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers: a client that
	// trickles them (slowloris) is dropped.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (bodies are
	// at most 1 MiB).
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the answer, handler included. Streams (the audit export)
	// replace it with a deadline per chunk: see api.LongReads.
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
	// MaxConnections bounds open connections; past it, new ones wait in the
	// kernel's accept queue until one closes.
	MaxConnections int
}

// defaultHTTPLimits returns the limits `steward serve` runs with, but for
// MaxConnections, which is a setting.
func defaultHTTPLimits() httpLimits {
	return httpLimits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// newHTTPServer returns the server for handler with every limit of l set.
func newHTTPServer(handler http.Handler, l httpLimits, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// limitListener bounds ln to l.MaxConnections open connections (no bound
// when it is 0 or less).
func limitListener(ln net.Listener, l httpLimits) net.Listener {
	if l.MaxConnections <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, l.MaxConnections)
}

// defaultMaxConnections is the default of --max-connections: far above what
// one instance serves at once, far below the usual limit of open files.
const defaultMaxConnections = 4096

// envInt is the integer in the environment variable name, or def when it is
// unset; a value that does not parse is recorded for validate.
func envInt(getenv func(string) string, c *config, name string, def int) int {
	v := getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: want a whole number", name, v))
		return def
	}
	return n
}

// envDuration is envInt for durations such as "30s" or "2m".
func envDuration(getenv func(string) string, c *config, name string, def time.Duration) time.Duration {
	v := getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: want a duration such as 30s or 2m", name, v))
		return def
	}
	return d
}

// longReads is the API's long-read budget from the settings.
func (c *config) longReads() api.LongReads {
	return api.LongReads{Max: c.MaxLongReads, StallTimeout: c.StreamStallTimeout}
}

// httpLimits are the server's limits with the settings applied.
func (c *config) httpLimits() httpLimits {
	l := defaultHTTPLimits()
	l.MaxConnections = c.MaxConnections
	return l
}
