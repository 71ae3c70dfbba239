package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// A count for a key that no longer exists is dropped by the WHERE EXISTS:
// the key was purged between its verification and the flush. The SELECT
// needs its WHERE for SQLite to read ON CONFLICT as the upsert clause.
const (
	recordKeyUsageStmt = "INSERT INTO key_usage (key_id, tenant_id, minute, code, count) " +
		"SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?1) " +
		"ON CONFLICT (key_id, minute, code) DO UPDATE SET count = count + excluded.count"
	recordNotFoundStmt = "INSERT INTO key_usage_not_found (minute, count) VALUES (?, ?) " +
		"ON CONFLICT (minute) DO UPDATE SET count = count + excluded.count"
)

func (t *tx) RecordKeyUsage(ctx context.Context, counts []steward.KeyUsageCount) error {
	counts = mergeKeyUsage(counts)
	if len(counts) == 0 {
		return nil
	}
	keyed, err := t.tx.PrepareContext(ctx, recordKeyUsageStmt)
	if err != nil {
		return fmt.Errorf("sqlite: record key usage: %w", err)
	}
	defer keyed.Close()
	for _, c := range counts {
		t.tx.n.Add(1)
		if c.KeyID == "" {
			_, err = t.tx.ExecContext(ctx, recordNotFoundStmt, micros(c.Minute), c.Count)
		} else {
			_, err = keyed.ExecContext(ctx, c.KeyID, c.TenantID, micros(c.Minute), c.Code, c.Count)
		}
		if err != nil {
			return fmt.Errorf("sqlite: record key usage: %w", err)
		}
	}
	return nil
}

// mergeKeyUsage sums counts of the same (key, minute, code), in that order,
// so each row is written once.
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

func (t *tx) PruneKeyUsage(ctx context.Context, before time.Time, n int) (int64, error) {
	var total int64
	for _, table := range []string{"key_usage", "key_usage_not_found"} {
		if int(total) >= n {
			break
		}
		res, err := t.tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE rowid IN (SELECT rowid FROM "+table+
			" WHERE minute < ? LIMIT ?)", micros(before), n-int(total))
		if err != nil {
			return total, fmt.Errorf("sqlite: prune key usage: %w", err)
		}
		k, _ := res.RowsAffected()
		total += k
	}
	return total, nil
}

// keyUsageWhere is the filter of q over key_usage; ok is false when q
// selects only NOT_FOUND, which key_usage never holds.
func keyUsageWhere(q steward.KeyUsageQuery) (where []string, args []any, ok bool) {
	where = []string{"minute >= ?", "minute < ?"}
	args = []any{micros(q.Since), micros(q.Until)}
	if q.KeyID != "" {
		where, args = append(where, "key_id = ?"), append(args, q.KeyID)
	}
	if q.TenantID != "" {
		where, args = append(where, "tenant_id = ?"), append(args, q.TenantID)
	}
	if q.Code != "" {
		where, args = append(where, "code = ?"), append(args, q.Code)
	}
	return where, args, q.Code != steward.VerifyNotFound
}

func (q queries) KeyUsageSeries(ctx context.Context, kq steward.KeyUsageQuery) ([]steward.KeyUsagePoint, error) {
	width := kq.Granularity.Duration().Microseconds()
	if width <= 0 {
		return nil, fmt.Errorf("sqlite: key usage series: granularity %q", kq.Granularity)
	}
	// Times are unix microseconds from 1970 on, so flooring is a remainder.
	var parts []string
	var args []any
	if where, wargs, ok := keyUsageWhere(kq); ok {
		parts = append(parts, "SELECT minute - minute % ? AS at, code, count FROM key_usage"+whereClause(where))
		args = append(append(args, width), wargs...)
	}
	if kq.KeyID == "" && kq.TenantID == "" && (kq.Code == "" || kq.Code == steward.VerifyNotFound) {
		parts = append(parts, "SELECT minute - minute % ? AS at, ? AS code, count FROM key_usage_not_found "+
			"WHERE minute >= ? AND minute < ?")
		args = append(args, width, steward.VerifyNotFound, micros(kq.Since), micros(kq.Until))
	}
	if len(parts) == 0 {
		return []steward.KeyUsagePoint{}, nil
	}
	list, err := queryAll(ctx, q.db, func(sc scanner) (steward.KeyUsagePoint, error) {
		var p steward.KeyUsagePoint
		var at int64
		err := sc.Scan(&at, &p.Code, &p.Count)
		p.At = fromMicros(at)
		return p, err
	}, "SELECT at, code, SUM(count) FROM ("+strings.Join(parts, " UNION ALL ")+") GROUP BY at, code ORDER BY at, code", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: key usage series: %w", err)
	}
	return list, nil
}

func (q queries) KeyUsageTopKeys(ctx context.Context, kq steward.KeyUsageQuery, n int) ([]steward.KeyUsageTopKey, error) {
	where, args, ok := keyUsageWhere(kq)
	if !ok {
		return []steward.KeyUsageTopKey{}, nil
	}
	args = append([]any{steward.VerifyRateLimited, steward.VerifyRevoked}, args...)
	list, err := queryAll(ctx, q.db, func(sc scanner) (steward.KeyUsageTopKey, error) {
		var k steward.KeyUsageTopKey
		err := sc.Scan(&k.KeyID, &k.TenantID, &k.Total, &k.RateLimited, &k.Revoked)
		return k, err
	}, "SELECT key_id, MAX(tenant_id), SUM(count), SUM(CASE WHEN code = ? THEN count ELSE 0 END), "+
		"SUM(CASE WHEN code = ? THEN count ELSE 0 END) FROM key_usage"+whereClause(where)+
		" GROUP BY key_id ORDER BY 3 DESC, key_id LIMIT ?", append(args, limit(n))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: key usage top keys: %w", err)
	}
	return list, nil
}
