package main

import (
	"fmt"
	"strings"
)

// dialect spells the few things SQLite and PostgreSQL write differently.
// Everything else in the seed's SQL is common to both: integer arithmetic,
// ||, substr, lower, CASE, window functions, and comparisons for booleans
// (0/1 on SQLite, boolean on PostgreSQL, which is what each store keeps).
type dialect struct {
	name string
}

func (d dialect) pg() bool { return d.name == "postgres" }

// series returns the FROM item of the integers from..to as column i: a
// recursive CTE on SQLite (written as a subquery), generate_series on
// PostgreSQL.
func (d dialect) series(from, to int64) string {
	if d.pg() {
		return fmt.Sprintf("generate_series(%d::bigint, %d::bigint) AS s(i)", from, to)
	}
	return fmt.Sprintf("(WITH RECURSIVE r(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM r WHERE i < %d) SELECT i FROM r) AS s",
		from, to)
}

// ts turns unix microseconds into the stores' time column.
func (d dialect) ts(us string) string {
	if d.pg() {
		return "(timestamptz 'epoch' + (" + us + ") * interval '1 microsecond')"
	}
	return us
}

// int casts to a 32-bit integer where PostgreSQL wants one (substr).
func (d dialect) int(x string) string {
	if d.pg() {
		return "(" + x + ")::int"
	}
	return x
}

// least and greatest of two values.
func (d dialect) least(a, b string) string {
	if d.pg() {
		return "LEAST(" + a + ", " + b + ")"
	}
	return "min(" + a + ", " + b + ")"
}

func (d dialect) greatest(a, b string) string {
	if d.pg() {
		return "GREATEST(" + a + ", " + b + ")"
	}
	return "max(" + a + ", " + b + ")"
}

// bytes turns text into the BLOB/bytea of a hash column.
func (d dialect) bytes(x string) string {
	if d.pg() {
		return "convert_to(" + x + ", 'UTF8')"
	}
	return "CAST(" + x + " AS BLOB)"
}

// list is a constant list column: a JSON array on SQLite, text[] on
// PostgreSQL.
func (d dialect) list(items []string) string {
	if d.pg() {
		return quote("{"+strings.Join(items, ",")+"}") + "::text[]"
	}
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = `"` + s + `"`
	}
	return quote("[" + strings.Join(q, ",") + "]")
}

// object is a constant JSON object column: text on SQLite, jsonb on
// PostgreSQL.
func (d dialect) object(json string) string {
	if d.pg() {
		return quote(json) + "::jsonb"
	}
	return quote(json)
}

// banText is the ban_reason/ban_by of a user with no ban: NULL on SQLite,
// the empty string on PostgreSQL (as each store writes them).
func (d dialect) banText() string {
	if d.pg() {
		return "''"
	}
	return "NULL"
}

// quote is a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// hash is a deterministic pseudo-random integer in [0, 2^31−1) from the
// integer expression x and a salt, the same on both databases: an affine
// step then a squaring modulo the Mersenne prime 2^31−1, which keeps
// different salts' draws from moving in lockstep. Products stay below 2^62.
func hash(x string, salt int) string {
	a := fmt.Sprintf("((%s) * 48271 + %d) %% 2147483647", x, 7919*salt+12345)
	return fmt.Sprintf("((%s) * (%s) %% 2147483647)", a, a)
}

// frac is a share of span chosen by h: span × (h mod 10⁶) / 10⁶, in
// integers (span first divided, so a year in microseconds cannot overflow).
func frac(span, h string) string {
	return fmt.Sprintf("((%s) / 1000000 * ((%s) %% 1000000))", span, h)
}

// pick is the list element the integer expression idx (0 ≤ idx < len)
// names, as a CASE so that both databases evaluate it the same way.
func pick(list []string, idx string) string {
	var b strings.Builder
	b.WriteString("CASE " + idx)
	for i, s := range list {
		fmt.Fprintf(&b, " WHEN %d THEN %s", i, quote(s))
	}
	b.WriteString(" END")
	return b.String()
}

// pickExpr is pick over SQL expressions rather than strings.
func pickExpr(list []string, idx string) string {
	var b strings.Builder
	b.WriteString("CASE " + idx)
	for i, s := range list {
		fmt.Fprintf(&b, " WHEN %d THEN %s", i, s)
	}
	b.WriteString(" END")
	return b.String()
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// enc is the n-character Crockford base32 of the non-negative integer
// expression x (its low 5n bits), as internal/id writes it.
func (d dialect) enc(x string, n int) string {
	parts := make([]string, n)
	for j := range n {
		parts[j] = fmt.Sprintf("substr('%s', %s, 1)", crockford, d.int(fmt.Sprintf("(((%s) >> %d) & 31) + 1", x, 5*(n-1-j))))
	}
	return strings.Join(parts, " || ")
}

// id is an id as internal/id.New makes them: prefix, "_", 10 characters of
// the creation time in milliseconds, then 16 of "randomness" — here a hash
// of n and n itself, so ids are unique per table and sort by time like real
// ones. createdUS is in microseconds.
func (d dialect) id(prefix, createdUS, n string, salt int) string {
	return fmt.Sprintf("'%s_' || %s || %s || %s", prefix,
		d.enc("("+createdUS+") / 1000", 10), d.enc(hash(n, salt), 6), d.enc(n, 10))
}
