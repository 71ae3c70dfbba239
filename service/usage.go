package service

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

const (
	maxUsageFuture = 5 * time.Minute
	maxReportSpan  = 400 * 24 * time.Hour
)

var (
	usageIDRe  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	usageKeyRe = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,64}$`)
)

// usageProblem checks one event; it returns the first problem as a
// VALIDATION_FAILED error naming the field, or nil.
func (s *Credits) usageProblem(ev *steward.UsageEventInput) error {
	fe := steward.FieldErrors{}
	if !usageIDRe.MatchString(ev.ID) {
		fe.Add("id", "is required: 1-128 characters of letters, digits, '.', '_', ':' or '-'")
	}
	if ev.TenantID == "" || len(ev.TenantID) > 64 {
		fe.Add("tenant_id", "is required")
	}
	validSpender(ev.UserID, ev.SessionID, fe)
	if !usageKeyRe.MatchString(ev.Metric) {
		fe.Add("metric", "is required: 1-64 characters of letters, digits, '.', '_', ':', '/' or '-'")
	}
	if ev.Model != "" && !usageKeyRe.MatchString(ev.Model) {
		fe.Add("model", "must be 1-64 characters of letters, digits, '.', '_', ':', '/' or '-'")
	}
	if ev.Quantity < 0 || ev.Quantity > maxCredits {
		fe.Add("quantity", "must be a whole number between 0 and 1000000000000")
	}
	if ev.Credits < 0 || ev.Credits > maxCredits {
		fe.Add("credits", "must be a whole number between 0 and 1000000000000")
	}
	if ev.CostMicros < 0 {
		fe.Add("cost_micros", "must be a whole number, not negative")
	}
	switch {
	case ev.OccurredAt == nil:
		fe.Add("occurred_at", "is required")
	case ev.OccurredAt.After(s.now().Add(maxUsageFuture)):
		fe.Add("occurred_at", "must not be in the future")
	}
	return fe.Err()
}

// RecordUsage implements steward.CreditService. The whole batch is one
// ledger write (one transaction with the accounts of its tenants locked);
// each event is recorded once per (tenant, id): a repeat is answered
// "duplicate" and changes nothing. An event with credits is recorded only
// if they can be paid: otherwise it is "rejected" with the ledger's code and
// may be sent again later.
func (s *Credits) RecordUsage(ctx context.Context, in *steward.UsageBatch) (*steward.UsageBatchResult, error) {
	if _, err := authorize(ctx, steward.PermUsageWrite); err != nil {
		return nil, err
	}
	switch {
	case len(in.Events) == 0:
		return nil, steward.FieldError("events", "is required")
	case len(in.Events) > steward.MaxUsageBatch:
		return nil, steward.FieldError("events", "at most 1000 events per request")
	}
	out := &steward.UsageBatchResult{Results: make([]steward.UsageEventResult, len(in.Events))}
	var tenants []string
	for i := range in.Events {
		ev := &in.Events[i]
		ev.ID, ev.TenantID, ev.UserID = strings.TrimSpace(ev.ID), strings.TrimSpace(ev.TenantID), strings.TrimSpace(ev.UserID)
		ev.SessionID = strings.TrimSpace(ev.SessionID)
		ev.Metric, ev.Model = strings.TrimSpace(ev.Metric), strings.TrimSpace(ev.Model)
		out.Results[i] = steward.UsageEventResult{ID: ev.ID}
		if err := s.usageProblem(ev); err != nil {
			out.Results[i] = rejected(ev.ID, err)
			continue
		}
		s.priceUsage(ev) // models_pricing.go
		tenants = append(tenants, ev.TenantID)
	}
	slices.Sort(tenants)
	tenants = slices.Compact(tenants)
	if len(tenants) > 0 {
		err := s.ledgerWrite(ctx, tenants, func(ctx context.Context, tx store.Tx, lk *ledgerLocks) error {
			for i := range in.Events {
				if out.Results[i].Status == steward.UsageRejected && out.Results[i].Code == steward.CodeValidation {
					continue
				}
				r, err := s.recordEvent(ctx, tx, lk, &in.Events[i])
				if err != nil {
					return err
				}
				out.Results[i] = r
			}
			// One entry for the batch; each paid event also has its
			// credits.deduct entry.
			n, tid := 0, ""
			for i, r := range out.Results {
				if r.Status == steward.UsageRecorded {
					n++
					if tid == "" || tid == in.Events[i].TenantID {
						tid = in.Events[i].TenantID
					} else {
						tid = "*"
					}
				}
			}
			if n == 0 {
				return nil
			}
			if tid == "*" {
				tid = ""
			}
			return s.audit(ctx, tx, event{Action: "usage.record", TargetType: "usage", TenantID: tid,
				Metadata: map[string]any{"recorded": n, "events": len(in.Events)}})
		})
		if err != nil {
			return nil, err
		}
	}
	for _, r := range out.Results {
		switch r.Status {
		case steward.UsageRecorded:
			out.Recorded++
		case steward.UsageDuplicate:
			out.Duplicates++
		default:
			out.Rejected++
		}
	}
	return out, nil
}

func rejected(id string, err error) steward.UsageEventResult {
	var e *steward.Error
	errors.As(err, &e)
	r := steward.UsageEventResult{ID: id, Status: steward.UsageRejected, Code: e.Code, Message: e.Message}
	if f, ok := e.Details["fields"].(map[string]any); ok {
		for k, v := range f {
			r.Message += "; " + k + " " + v.(string)
		}
	}
	return r
}

// recordEvent records one valid event inside the batch's transaction. Only
// infrastructure errors are returned; the event's own outcome is the result.
func (s *Credits) recordEvent(ctx context.Context, tx store.Tx, lk *ledgerLocks, ev *steward.UsageEventInput) (steward.UsageEventResult, error) {
	res := steward.UsageEventResult{ID: ev.ID}
	// A repeat is a duplicate whatever became of the tenant since.
	prev, err := tx.GetUsageEvent(ctx, ev.TenantID, ev.ID)
	switch {
	case err == nil:
		res.Status, res.TransactionID = steward.UsageDuplicate, prev.TransactionID
		return res, nil
	case !errors.Is(err, store.ErrNotFound):
		return res, err
	}
	var domain *steward.Error
	tl, err := lk.ledger(ctx, ev.TenantID)
	if errors.As(err, &domain) {
		return rejected(ev.ID, err), nil
	}
	if err != nil {
		return res, err
	}
	now := s.now()
	rec := &steward.UsageEvent{ID: ev.ID, TenantID: ev.TenantID, UserID: ev.UserID, Metric: ev.Metric,
		Quantity: int64(ev.Quantity), Credits: int64(ev.Credits), CostMicros: int64(ev.CostMicros), Model: ev.Model,
		OccurredAt: ev.OccurredAt.UTC().Truncate(time.Microsecond), RecordedAt: now}
	if ev.Credits > 0 {
		e := &steward.LedgerEntry{Kind: steward.LedgerDeduct, Description: "usage: " + ev.Metric,
			IdempotencyKey: systemKeyPrefix + "usage:" + ev.ID, UsageEventID: ev.ID}
		err := lk.deductFor(ctx, tl, e, int64(ev.Credits), ev.UserID, ev.SessionID)
		if errors.As(err, &domain) {
			return rejected(ev.ID, err), nil
		}
		if err != nil {
			return res, err
		}
		rec.TransactionID = e.ID
		bal := tl.available(now)
		res.Balance = &bal
	}
	if err := tx.InsertUsageEvent(ctx, rec); err != nil {
		return res, err
	}
	res.Status, res.TransactionID = steward.UsageRecorded, rec.TransactionID
	return res, nil
}

// UsageReport implements steward.CreditService. Periods are UTC: the day,
// the ISO week (from Monday) or the calendar month containing start
// (default now); custom takes start and end.
func (s *Credits) UsageReport(ctx context.Context, in *steward.UsageReportInput) (*steward.UsageReport, error) {
	if _, err := authorize(ctx, steward.PermUsageRead); err != nil {
		return nil, err
	}
	fe := steward.FieldErrors{}
	q := steward.UsageQuery{GroupBy: in.GroupBy, TenantID: strings.TrimSpace(in.TenantID)}
	if q.GroupBy == "" {
		q.GroupBy = steward.UsageByTenant
	}
	switch q.GroupBy {
	case steward.UsageByTenant, steward.UsageByUser, steward.UsageByMetric, steward.UsageByModel:
	default:
		fe.Add("group_by", "must be one of tenant, user, metric, model")
	}
	at := s.now()
	if in.Start != nil {
		at = in.Start.UTC()
	}
	day := at.Truncate(24 * time.Hour)
	switch in.Period {
	case "", "day":
		q.Start, q.End = day, day.AddDate(0, 0, 1)
	case "week":
		q.Start = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		q.End = q.Start.AddDate(0, 0, 7)
	case "month":
		q.Start = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		q.End = q.Start.AddDate(0, 1, 0)
	case "custom":
		switch {
		case in.Start == nil:
			fe.Add("start", "is required for a custom period")
		case in.End == nil:
			fe.Add("end", "is required for a custom period")
		case !in.End.After(*in.Start):
			fe.Add("end", "must be after start")
		case in.End.Sub(*in.Start) > maxReportSpan:
			fe.Add("end", "a period spans at most 400 days")
		default:
			q.Start, q.End = in.Start.UTC(), in.End.UTC()
		}
	default:
		fe.Add("period", "must be one of day, week, month, custom")
	}
	if in.Period != "custom" && in.End != nil {
		fe.Add("end", "is only for a custom period")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	rows, err := s.store.AggregateUsage(ctx, q)
	if err != nil {
		return nil, err
	}
	rep := &steward.UsageReport{Start: q.Start, End: q.End, GroupBy: q.GroupBy, Data: rows}
	if rep.Data == nil {
		rep.Data = []steward.UsageRow{}
	}
	for _, r := range rows {
		rep.Totals.Events += r.Events
		rep.Totals.Quantity += r.Quantity
		rep.Totals.Credits += r.Credits
		rep.Totals.CostMicros += r.CostMicros
	}
	return rep, nil
}
