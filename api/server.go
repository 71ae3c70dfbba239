// Package api translates HTTP to the steward services and back. It holds no
// business rule: handlers decode, call one service method and encode.
// routes.go lists the whole surface.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
)

// Deps is everything the HTTP layer needs; NewServer takes nothing else.
type Deps struct {
	Users    steward.UserService
	Sessions steward.SessionService
	Audit    steward.AuditService
	Auth     steward.AuthService
	Keys     steward.KeyService
	Tenants  steward.TenantService
	Credits  steward.CreditService
	Idem     steward.IdempotencyService

	Impersonations steward.ImpersonationService
	KeyUsage       steward.KeyUsageService
	Series         steward.SeriesService
	// Stats answers GET /admin/stats (the overview).
	Stats steward.StatsService
	// Retention answers /admin/retention (docs/retention.md).
	Retention steward.RetentionService
	// PlatformConfig answers /admin/config (docs/configuration.md).
	PlatformConfig steward.PlatformConfigService
	// UserSpending answers /admin/users/{id}/spending (docs/credits.md).
	UserSpending steward.UserSpendingService
	// Features answers the feature flag endpoints (docs/flags.md).
	Features steward.FeatureService
	// Webhooks answers /admin/webhooks (docs/webhooks.md).
	Webhooks steward.WebhookService
	// Resources answers /platform/resources and /admin/computers
	// (docs/resources.md).
	Resources steward.ResourceService
	// Models answers the model catalogue endpoints (docs/models.md).
	Models steward.ModelService
	// Actions answers /admin/actions (docs/data-admin.md).
	Actions steward.AdminActionService
	// Data answers /admin/data (docs/data-admin.md).
	Data DataAdmin
	// Ready reports whether the database answers (for /readyz).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// Metrics is where request metrics are registered and what /metrics
	// serves; nil gets a fresh registry.
	Metrics *prometheus.Registry
	// AdminRatePerMinute limits each credential on the admin surface:
	// 0 is DefaultAdminRatePerMinute, below 0 no limit. AdminRateBurst 0
	// is ten seconds' worth.
	AdminRatePerMinute, AdminRateBurst int
	// Now is the clock of the rate limits; nil is time.Now.
	Now func() time.Time
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (clientip.go); none by default.
	TrustedProxies []netip.Prefix
	// LongReads bounds exports and other long reads (see longread.go).
	LongReads LongReads
	// Health, Build and HTTPConnections make the detailed health report
	// (health.go).
	Health          steward.HealthService
	Build           BuildInfo
	HTTPConnections func() (open, max int)
}

type server struct {
	Deps
	log      *slog.Logger
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	admin    *adminLimiter

	// longReads is the budget of exports and other long reads.
	longReads *longReadBudget
}

// handler is what every endpoint is: it returns an error and one adapter
// renders it.
type handler func(w http.ResponseWriter, r *http.Request) error

// NewServer returns the HTTP handler for the whole API surface.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	s := &server{Deps: d, log: d.Logger, admin: newAdminLimiter(d.AdminRatePerMinute, d.AdminRateBurst, d.Now),
		longReads: newLongReadBudget(d.LongReads)}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steward_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"method", "route", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "steward_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "route"})
	d.Metrics.MustRegister(s.requests, s.latency)

	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.adapt(rt))
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{}))
	cop := http.NewCrossOriginProtection()
	return s.outer(cop.Handler(mux))
}

// adapt applies the route's authentication and renders a returned error.
func (s *server) adapt(rt route) http.Handler {
	query := querySpecFor(rt)
	wildcards := pathWildcards(rt.Pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch rt.Auth {
		case authAdmin, authUser, authPlatform:
			p, err := s.authenticate(r, rt.Auth)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			ctx = context.WithValue(steward.WithActor(ctx, p.Actor), principalKey{}, p)
			if rt.Auth == authAdmin {
				if err := s.admin.allow(credentialOf(p)); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
		}
		vals, err := query.check(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := checkRequest(r, wildcards, vals); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := rt.Handle(w, r.WithContext(ctx)); err != nil {
			s.writeError(w, r, err)
		}
	})
}

type principalKey struct{}

func principalFrom(ctx context.Context) *steward.Principal {
	p, _ := ctx.Value(principalKey{}).(*steward.Principal)
	return p
}

// bearer returns the credential of a request: the Authorization bearer, or
// the console cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	if c, err := r.Cookie("steward_session"); err == nil {
		return c.Value
	}
	return ""
}

// authenticate resolves the credential against the current database state.
// The admin surface takes operators only and refuses impersonation sessions.
func (s *server) authenticate(r *http.Request, kind authKind) (*steward.Principal, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, steward.Errorf(steward.CodeUnauthenticated, "authentication required: send Authorization: Bearer <token>")
	}
	p, err := s.Auth.Authenticate(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	switch kind {
	case authUser:
		if p.Session == nil {
			return nil, steward.Errorf(steward.CodeWrongSurface, "the auth surface takes session tokens, not API keys")
		}
		if err := readOnlyCheck(r, p); err != nil {
			return nil, err
		}
	case authPlatform:
		if p.Key == nil || p.Key.Type != steward.KeyPlatform {
			return nil, steward.Errorf(steward.CodeWrongSurface, "the platform surface takes platform keys only")
		}
	case authAdmin:
		if p.Key != nil && p.Key.Type == steward.KeyUser {
			return nil, steward.Errorf(steward.CodeWrongSurface, "user keys are not accepted on the admin surface")
		}
		if p.Actor.ImpersonatorID != "" {
			return nil, steward.Errorf(steward.CodeWrongSurface, "impersonation tokens are not accepted on the admin surface")
		}
		if !p.Actor.Role.IsOperator() {
			return nil, &steward.Error{Code: steward.CodeForbidden, Message: "the admin surface is for operators",
				Details: map[string]any{"role": string(p.Actor.Role)}}
		}
	}
	return p, nil
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

type requestIDKey struct{}

func requestID(ctx context.Context) string { id, _ := ctx.Value(requestIDKey{}).(string); return id }

// outer is the middleware every request passes: request id, request info
// for the audit log, JSON 404/405, panic recovery, metrics and logging.
func (s *server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-ID")
		if !requestIDRe.MatchString(rid) {
			rid = id.New("req", start)
		}
		w.Header().Set("X-Request-ID", rid)
		// On every answer, errors and /metrics included. A handler whose
		// answer may be cached (the JWKS) says so itself; everything else
		// may hold a secret, a token or personal data.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		ip := s.clientIP(r)
		ctx := context.WithValue(r.Context(), requestIDKey{}, rid)
		ctx = steward.WithRequestInfo(ctx, steward.RequestInfo{RequestID: rid, IP: ip, UserAgent: headerText(r.UserAgent(), 512)})
		r = r.WithContext(ctx)
		rw := &recorder{ResponseWriter: w, s: s, r: r}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "panic", "value", v, "path", r.URL.Path, "request_id", rid)
				if !rw.wrote {
					s.writeError(rw, r, steward.Errorf(steward.CodeInternal, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := rw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.requests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Inc()
			s.latency.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
			if status >= 500 {
				s.log.WarnContext(ctx, "request", "method", r.Method, "path", r.URL.Path, "status", status,
					"duration", time.Since(start), "request_id", rid)
			} else {
				s.log.DebugContext(ctx, "request", "method", r.Method, "path", r.URL.Path, "status", status,
					"duration", time.Since(start), "request_id", rid)
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

// recorder notes the status, and turns the mux's plain-text 404/405/403
// answers into the JSON error shape.
type recorder struct {
	http.ResponseWriter
	s       *server
	r       *http.Request
	status  int
	wrote   bool
	swallow bool
}

func (w *recorder) WriteHeader(code int) {
	if w.wrote {
		return
	}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		var e *steward.Error
		switch code {
		case http.StatusNotFound:
			e = steward.Errorf(steward.CodeNotFound, "no such endpoint: %s %s", w.r.Method, w.r.URL.Path)
		case http.StatusMethodNotAllowed:
			e = steward.Errorf(steward.CodeMethodNotAllowed, "%s is not allowed on %s", w.r.Method, w.r.URL.Path)
		case http.StatusForbidden:
			e = steward.Errorf(steward.CodeForbidden, "cross-origin request refused")
		}
		if e != nil {
			w.Header().Del("Content-Type")
			w.swallow = true
			w.wrote, w.status = true, code
			w.s.writeError(w.ResponseWriter, w.r, e)
			return
		}
	}
	w.wrote, w.status = true, code
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets the audit export stream.
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.swallow {
		f.Flush()
	}
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
