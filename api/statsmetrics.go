package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
)

// StatsCacheTTL is how long a scrape reuses the Stats the previous one
// read: a scrape storm costs at most one read of the counters per second.
const StatsCacheTTL = time.Second

// statsCollector exposes the Stats gauges on /metrics, read at scrape time
// as the system actor.
type statsCollector struct {
	stats steward.StatsService
	now   func() time.Time
	log   *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last *steward.Stats

	users, usersByRole, tenants, tenantsByPlan, keys, keysByType *prometheus.Desc
	sessions, impersonations, credits, up                        *prometheus.Desc
	creditsMonth, usageMonth, sessionsToday                      *prometheus.Desc
	resources, resourcesByDesired, resourcesHeld, resourcesStale *prometheus.Desc
}

// NewStatsCollector returns a prometheus.Collector of the platform gauges
// (docs/overview.md, Metrics). now is the clock of its cache (nil:
// time.Now); errors reading the stats are logged to log (nil: the default)
// and shown as steward_stats_up 0.
func NewStatsCollector(stats steward.StatsService, now func() time.Time, log *slog.Logger) prometheus.Collector {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("steward_"+name, help, labels, nil)
	}
	return &statsCollector{stats: stats, now: now, log: log,
		users:          d("users", "Stored users by status (soft-deleted ones under deleted).", "status"),
		usersByRole:    d("users_by_role", "Stored users by role.", "role"),
		tenants:        d("tenants", "Tenants by status.", "status"),
		tenantsByPlan:  d("tenants_by_plan", "Tenants by plan.", "plan"),
		keys:           d("api_keys", "API keys by their own state now.", "status"),
		keysByType:     d("api_keys_by_type", "API keys by type.", "type"),
		sessions:       d("sessions_active", "Sessions neither revoked nor expired."),
		impersonations: d("impersonations_active", "Impersonations neither ended nor expired."),
		credits:        d("credits_outstanding", "The sum of every tenant's credit balance."),
		up:             d("stats_up", "1 when the stats were read, 0 when reading them failed."),
		creditsMonth: d("credits_month_to_date", "Credits moved by the ledger since the start of the UTC month, by kind (used is deducted less refunded).",
			"kind"),
		usageMonth:    d("usage_events_month_to_date", "Usage events that occurred since the start of the UTC month, by metric.", "metric"),
		sessionsToday: d("sessions_started_today", "Sessions started since the start of the UTC day."),
		resources:     d("resources", "Stored resources by reported status.", "status"),
		resourcesByDesired: d("resources_by_desired_status", "Stored resources by desired status.",
			"desired_status"),
		resourcesHeld:  d("resources_held", "Resources held suspended by their tenant's suspension or deletion."),
		resourcesStale: d("resources_stale", "Resources not reported for STEWARD_RESOURCE_STALE_AFTER."),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.users, c.usersByRole, c.tenants, c.tenantsByPlan, c.keys, c.keysByType,
		c.sessions, c.impersonations, c.credits, c.up, c.creditsMonth, c.usageMonth, c.sessionsToday,
		c.resources, c.resourcesByDesired, c.resourcesHeld, c.resourcesStale} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.read()
	if err != nil {
		c.log.Error("stats for /metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	gauges(ch, c.users, st.Users.ByStatus)
	gauges(ch, c.usersByRole, st.Users.ByRole)
	gauges(ch, c.tenants, st.Tenants.ByStatus)
	gauges(ch, c.tenantsByPlan, st.Tenants.ByPlan)
	gauges(ch, c.keys, st.APIKeys.ByStatus)
	gauges(ch, c.keysByType, st.APIKeys.ByType)
	ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(st.Sessions.Active))
	ch <- prometheus.MustNewConstMetric(c.impersonations, prometheus.GaugeValue, float64(st.Impersonations.Active))
	ch <- prometheus.MustNewConstMetric(c.credits, prometheus.GaugeValue, float64(st.Credits.Outstanding))
	cr := st.Credits
	gauges(ch, c.creditsMonth, map[string]int64{"granted": cr.Granted, "deducted": cr.Deducted, "refunded": cr.Refunded,
		"used": cr.Used, "expired": cr.Expired, "adjusted": cr.Adjusted})
	for metric, u := range st.Usage.ByMetric {
		ch <- prometheus.MustNewConstMetric(c.usageMonth, prometheus.GaugeValue, float64(u.Events), metric)
	}
	ch <- prometheus.MustNewConstMetric(c.sessionsToday, prometheus.GaugeValue, float64(st.Sessions.StartedToday))
	gauges(ch, c.resources, st.Resources.ByStatus)
	gauges(ch, c.resourcesByDesired, st.Resources.ByDesired)
	ch <- prometheus.MustNewConstMetric(c.resourcesHeld, prometheus.GaugeValue, float64(st.Resources.HeldByTenant))
	ch <- prometheus.MustNewConstMetric(c.resourcesStale, prometheus.GaugeValue, float64(st.Resources.Stale))
}

// read returns the cached stats when younger than StatsCacheTTL. The lock
// is held while reading, so concurrent scrapes share one read.
func (c *statsCollector) read() (*steward.Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.last != nil && now.Sub(c.at) < StatsCacheTTL && !now.Before(c.at) {
		return c.last, nil
	}
	ctx, cancel := context.WithTimeout(steward.WithActor(context.Background(), steward.SystemActor), 5*time.Second)
	defer cancel()
	st, err := c.stats.Stats(ctx, nil)
	if err != nil {
		return nil, err
	}
	c.at, c.last = now, st
	return st, nil
}

func gauges[K ~string](ch chan<- prometheus.Metric, d *prometheus.Desc, m map[K]int64) {
	for k, v := range m {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), string(k))
	}
}
