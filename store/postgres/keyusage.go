package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
)

// RecordKeyUsage locks the keys it counts against deletion first (FOR KEY
// SHARE, in id order), so a key purged meanwhile is either gone from the
// lock's answer, and its counts dropped, or waits for this flush; then it
// adds every count in one statement each for keys and for NOT_FOUND. Rows
// are written in (key, minute, code) order, so two replicas flushing at
// once do not deadlock.
func (t *tx) RecordKeyUsage(ctx context.Context, counts []steward.KeyUsageCount) (err error) {
	defer wrapErr(&err, "record key usage")
	counts = mergeKeyUsage(counts)
	var ids []string
	for _, c := range counts {
		if c.KeyID != "" && (len(ids) == 0 || ids[len(ids)-1] != c.KeyID) {
			ids = append(ids, c.KeyID)
		}
	}
	live := map[string]bool{}
	if len(ids) > 0 {
		rows, err := t.q.Query(ctx, "SELECT id FROM api_keys WHERE id = ANY($1) ORDER BY id FOR KEY SHARE", ids)
		if err != nil {
			return mapErr(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return mapErr(err)
		}
		for _, id := range got {
			live[id] = true
		}
	}
	var (
		keys, tenants, codes []string
		minutes              []time.Time
		ns                   []int64
		nfMinutes            []time.Time
		nfCounts             []int64
	)
	for _, c := range counts {
		switch {
		case c.KeyID == "":
			nfMinutes, nfCounts = append(nfMinutes, c.Minute), append(nfCounts, c.Count)
		case live[c.KeyID]:
			keys, tenants, minutes = append(keys, c.KeyID), append(tenants, c.TenantID), append(minutes, c.Minute)
			codes, ns = append(codes, c.Code), append(ns, c.Count)
		}
	}
	if len(keys) > 0 {
		_, err := t.q.Exec(ctx, `INSERT INTO key_usage (key_id, tenant_id, minute, code, count)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[])
			ON CONFLICT (key_id, minute, code) DO UPDATE SET count = key_usage.count + excluded.count`,
			keys, tenants, minutes, codes, ns)
		if err != nil {
			return mapErr(err)
		}
	}
	if len(nfMinutes) > 0 {
		_, err := t.q.Exec(ctx, `INSERT INTO key_usage_not_found (minute, count)
			SELECT * FROM unnest($1::timestamptz[], $2::bigint[])
			ON CONFLICT (minute) DO UPDATE SET count = key_usage_not_found.count + excluded.count`,
			nfMinutes, nfCounts)
		if err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// mergeKeyUsage sums counts of the same (key, minute, code), in that order:
// one statement may not upsert a row twice.
func mergeKeyUsage(counts []steward.KeyUsageCount) []steward.KeyUsageCount {
	sorted := slices.Clone(counts)
	slices.SortFunc(sorted, func(a, b steward.KeyUsageCount) int {
		return cmp.Or(strings.Compare(a.KeyID, b.KeyID), a.Minute.Compare(b.Minute), strings.Compare(a.Code, b.Code))
	})
	out := sorted[:0]
	for _, c := range sorted {
		if n := len(out); n > 0 && out[n-1].KeyID == c.KeyID && out[n-1].Minute.Equal(c.Minute) && out[n-1].Code == c.Code {
			out[n-1].Count += c.Count
			continue
		}
		out = append(out, c)
	}
	return out
}

func (t *tx) PruneKeyUsage(ctx context.Context, before time.Time, n int) (total int64, err error) {
	defer wrapErr(&err, "prune key usage")
	tag, err := t.q.Exec(ctx, `DELETE FROM key_usage WHERE (key_id, minute, code) IN
		(SELECT key_id, minute, code FROM key_usage WHERE minute < $1 LIMIT $2)`, before, n)
	if err != nil {
		return 0, mapErr(err)
	}
	total = tag.RowsAffected()
	if int(total) >= n {
		return total, nil
	}
	tag, err = t.q.Exec(ctx, `DELETE FROM key_usage_not_found WHERE minute IN
		(SELECT minute FROM key_usage_not_found WHERE minute < $1 LIMIT $2)`, before, n-int(total))
	if err != nil {
		return total, mapErr(err)
	}
	return total + tag.RowsAffected(), nil
}

// keyUsageWhere adds q's filter over key_usage to w; false, adding
// nothing, when q selects only NOT_FOUND, which key_usage never holds.
func keyUsageWhere(w *where, q steward.KeyUsageQuery) bool {
	if q.Code == steward.VerifyNotFound {
		return false
	}
	w.add("minute >= " + w.arg(q.Since))
	w.add("minute < " + w.arg(q.Until))
	if q.KeyID != "" {
		w.add("key_id = " + w.arg(q.KeyID))
	}
	if q.TenantID != "" {
		w.add("tenant_id = " + w.arg(q.TenantID))
	}
	if q.Code != "" {
		w.add("code = " + w.arg(q.Code))
	}
	return true
}

func (q *queries) KeyUsageSeries(ctx context.Context, kq steward.KeyUsageQuery) (_ []steward.KeyUsagePoint, err error) {
	defer wrapErr(&err, "key usage series")
	if kq.Granularity.Duration() == 0 {
		return nil, fmt.Errorf("granularity %q", kq.Granularity)
	}
	// date_trunc of the UTC wall time, back to an instant: buckets are UTC
	// whatever the session's time zone.
	w := &where{}
	bucket := "date_trunc(" + w.arg(string(kq.Granularity)) + ", minute AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
	var parts []string
	if keyUsageWhere(w, kq) {
		parts = append(parts, "SELECT "+bucket+" AS at, code, count FROM key_usage"+w.String())
	}
	if kq.KeyID == "" && kq.TenantID == "" && (kq.Code == "" || kq.Code == steward.VerifyNotFound) {
		parts = append(parts, "SELECT "+bucket+" AS at, "+w.arg(steward.VerifyNotFound)+"::text AS code, count "+
			"FROM key_usage_not_found WHERE minute >= "+w.arg(kq.Since)+" AND minute < "+w.arg(kq.Until))
	}
	if len(parts) == 0 {
		return []steward.KeyUsagePoint{}, nil
	}
	rows, err := q.q.Query(ctx, "SELECT at, code, SUM(count)::bigint FROM ("+strings.Join(parts, " UNION ALL ")+
		") u GROUP BY at, code ORDER BY at, code", w.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (steward.KeyUsagePoint, error) {
		var p steward.KeyUsagePoint
		err := r.Scan(&p.At, &p.Code, &p.Count)
		p.At = p.At.UTC()
		return p, err
	})
	if err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

func (q *queries) KeyUsageTopKeys(ctx context.Context, kq steward.KeyUsageQuery, n int) (_ []steward.KeyUsageTopKey, err error) {
	defer wrapErr(&err, "key usage top keys")
	w := &where{}
	rl, rv := w.arg(steward.VerifyRateLimited), w.arg(steward.VerifyRevoked)
	if !keyUsageWhere(w, kq) {
		return []steward.KeyUsageTopKey{}, nil
	}
	rows, err := q.q.Query(ctx, "SELECT key_id, MAX(tenant_id), SUM(count)::bigint, "+
		"SUM(CASE WHEN code = "+rl+" THEN count ELSE 0 END)::bigint, "+
		"SUM(CASE WHEN code = "+rv+" THEN count ELSE 0 END)::bigint FROM key_usage"+w.String()+
		" GROUP BY key_id ORDER BY 3 DESC, key_id LIMIT "+w.arg(n), w.args...)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (steward.KeyUsageTopKey, error) {
		var k steward.KeyUsageTopKey
		return k, r.Scan(&k.KeyID, &k.TenantID, &k.Total, &k.RateLimited, &k.Revoked)
	})
	if err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}
