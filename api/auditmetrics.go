package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
)

// auditCollector exposes the audit sequencer's backlog on /metrics
// (docs/audit-log.md#sealing). It reads on every scrape: two index-only
// counts and one row of pg_stat_activity, cheap enough not to cache.
type auditCollector struct {
	audit                   steward.AuditService
	log                     *slog.Logger
	pending, oldest, holder *prometheus.Desc
}

// NewAuditCollector returns a prometheus.Collector of the audit log's
// pending entries; read errors are logged to log (nil: the default) and
// leave the gauges out of that scrape.
func NewAuditCollector(audit steward.AuditService, log *slog.Logger) prometheus.Collector {
	if log == nil {
		log = slog.Default()
	}
	return &auditCollector{audit: audit, log: log,
		pending: prometheus.NewDesc("steward_audit_pending",
			"Audit entries whose change committed but that the sequencer has not sealed yet.", nil, nil),
		oldest: prometheus.NewDesc("steward_audit_pending_oldest_seconds",
			"Age of the oldest pending audit entry: the seal lag (0 when none is pending).", nil, nil),
		holder: prometheus.NewDesc("steward_audit_oldest_transaction_seconds",
			"PostgreSQL: age of the oldest open transaction in the database cluster, which holds sealing back while it runs (0 when none).", nil, nil),
	}
}

func (c *auditCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldest
	ch <- c.holder
}

func (c *auditCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(steward.WithActor(context.Background(), steward.SystemActor), 5*time.Second)
	defer cancel()
	p, err := c.audit.AuditPending(ctx)
	if err != nil {
		c.log.Error("audit pending for /metrics", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(p.Count))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, deref(p.OldestAgeSeconds))
	ch <- prometheus.MustNewConstMetric(c.holder, prometheus.GaugeValue, deref(p.OldestTransactionAgeSeconds))
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
