package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/datatables"
)

// DataLoader opens the configured sources and introspects the exposed
// tables (datatables.Load).
type DataLoader func(ctx context.Context, own store.Store, cfg datatables.Config) (*datatables.Catalog, error)

// DataAdmin implements steward.DataAdminService and steward.DataExporter
// (docs/data-admin.md): the rules over store/datatables' statements — the
// role gates, redaction, read-only fields, If-Match, and an audit entry per
// change.
type DataAdmin struct {
	*core
	load DataLoader
	// actions lists the custom admin actions for the schema document.
	actions *Actions
	cat     atomic.Pointer[datatables.Catalog]
}

var (
	_ steward.DataAdminService = (*DataAdmin)(nil)
	_ steward.DataExporter     = (*DataAdmin)(nil)
)

func newDataAdmin(c *core) *DataAdmin {
	d := &DataAdmin{core: c, load: c.cfg.DataLoader}
	if d.load == nil {
		d.load = datatables.Load
	}
	d.cat.Store(&datatables.Catalog{LoadedAt: c.now()})
	return d
}

// actionsFor are the custom admin actions role may run on target.
func (d *DataAdmin) actionsFor(target string, role steward.Role) []steward.AdminAction {
	if d.actions == nil {
		return []steward.AdminAction{}
	}
	return d.actions.For(target, role)
}

// start loads the catalog (Service.Start).
func (d *DataAdmin) start(ctx context.Context) error {
	_, err := d.reload(ctx)
	return err
}

// Close closes the external sources of the current catalog.
func (d *DataAdmin) Close() error {
	return closeSources(d.cat.Load(), nil)
}

func (d *DataAdmin) reload(ctx context.Context) (*datatables.Catalog, error) {
	cat, err := d.load(ctx, d.store, d.cfg.Data)
	if err != nil {
		return nil, err
	}
	cat.LoadedAt = d.now() // the injected clock, not the loader's
	old := d.cat.Swap(cat)
	// Requests still running on an old source finish first: both drivers'
	// Close wait for queries in flight.
	if err := closeSources(old, cat); err != nil {
		d.log.Warn("data admin: closing a replaced source", "err", err)
	}
	return cat, nil
}

// closeSources closes each external source of old that next does not use.
func closeSources(old, next *datatables.Catalog) error {
	if old == nil {
		return nil
	}
	var keep []datatables.Source
	if next != nil {
		for _, t := range next.Tables {
			keep = append(keep, t.Src)
		}
	}
	var closed []datatables.Source
	var errs []error
	for _, t := range old.Tables {
		if t.Src == nil || t.Src.Own() || slices.Contains(keep, t.Src) || slices.Contains(closed, t.Src) {
			continue
		}
		closed = append(closed, t.Src)
		errs = append(errs, t.Src.Close())
	}
	return errors.Join(errs...)
}

// dataOp is what a request does to a table.
type dataOp string

const (
	opRead   dataOp = "read"
	opInsert dataOp = "insert"
	opUpdate dataOp = "update"
	opDelete dataOp = "delete"
)

// roleFor is the least role the table lets do op.
func roleFor(t *steward.DataTable, op dataOp) steward.Role {
	r, def := t.Roles.Read, steward.DefaultDataRoles.Read
	switch op {
	case opInsert:
		r, def = t.Roles.Insert, steward.DefaultDataRoles.Insert
	case opUpdate:
		r, def = t.Roles.Update, steward.DefaultDataRoles.Update
	case opDelete:
		r, def = t.Roles.Delete, steward.DefaultDataRoles.Delete
	}
	if !r.Valid() {
		return def
	}
	return r
}

// allows reports whether role may do op on t.
func allows(t *steward.DataTable, role steward.Role, op dataOp) bool {
	return role.Rank() >= roleFor(t, op).Rank()
}

// table authorizes the caller for op on the named table: the permission
// (data:read, or data:write for a change), the table's existence, and its
// role gate; a change also needs a writable table.
func (d *DataAdmin) table(ctx context.Context, name string, op dataOp) (*datatables.Table, error) {
	perm := steward.PermDataRead
	if op != opRead {
		perm = steward.PermDataWrite
	}
	a, err := authorize(ctx, perm)
	if err != nil {
		return nil, err
	}
	t, ok := d.cat.Load().Table(name)
	if !ok {
		return nil, &steward.Error{Code: steward.CodeModelNotFound, Message: "no data table " + quoteName(name) + " is exposed",
			Details: map[string]any{"table": name}}
	}
	if !allows(&t.DataTable, a.Role, op) {
		need := roleFor(&t.DataTable, op)
		return nil, &steward.Error{Code: steward.CodeInsufficientRole,
			Message: string(op) + " on " + t.Name + " needs the role " + string(need) + " or above",
			Details: map[string]any{"table": t.Name, "operation": string(op), "required_role": string(need), "role": string(a.Role)}}
	}
	if op != opRead && t.ReadOnly {
		reason := t.ReadOnlyReason
		if reason == "" {
			reason = "the configuration makes it read-only"
		}
		return nil, &steward.Error{Code: steward.CodeInvalidState, Message: t.Name + " is read-only: " + reason,
			Details: map[string]any{"table": t.Name, "reason": reason}}
	}
	return t, nil
}

func quoteName(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// DataSchema implements steward.DataAdminService: the tables the caller's
// role may read, each with what it may do there.
func (d *DataAdmin) DataSchema(ctx context.Context) (*steward.DataSchema, error) {
	a, err := authorize(ctx, steward.PermDataRead)
	if err != nil {
		return nil, err
	}
	return d.schemaFor(d.cat.Load(), a), nil
}

// schemaFor is the schema document as a sees it: the tables its role may
// read, what it may do to each, and the custom admin actions it may run on
// each table and on users and tenants.
func (d *DataAdmin) schemaFor(cat *datatables.Catalog, a steward.Actor) *steward.DataSchema {
	out := &steward.DataSchema{Tables: []steward.DataSchemaTable{},
		Actions:  append(d.actionsFor("user", a.Role), d.actionsFor("tenant", a.Role)...),
		LoadedAt: cat.LoadedAt.UTC().Format(time.RFC3339Nano)}
	write := a.Can(steward.PermDataWrite)
	for _, t := range cat.Tables {
		if !allows(&t.DataTable, a.Role, opRead) {
			continue
		}
		st := steward.DataSchemaTable{DataTable: t.DataTable, Actions: d.actionsFor(t.Name, a.Role)}
		st.Roles = steward.DataRoles{Read: roleFor(&t.DataTable, opRead), Insert: roleFor(&t.DataTable, opInsert),
			Update: roleFor(&t.DataTable, opUpdate), Delete: roleFor(&t.DataTable, opDelete)}
		st.Columns = slices.Clone(t.Columns)
		for i := range st.Columns {
			c := &st.Columns[i]
			c.FilterOps = slices.Clone(datatables.OpsFor(c))
			if c.Redacted {
				c.FilterOps = []string{}
			}
		}
		st.Allowed = steward.DataAllowed{Read: true,
			Insert: write && !t.ReadOnly && allows(&t.DataTable, a.Role, opInsert),
			Update: write && !t.ReadOnly && allows(&t.DataTable, a.Role, opUpdate),
			Delete: write && !t.ReadOnly && !t.DenyDelete && allows(&t.DataTable, a.Role, opDelete)}
		out.Tables = append(out.Tables, st)
	}
	return out
}

// ReloadData implements steward.DataAdminService: owner and up
// (config:write), audited data.reload.
func (d *DataAdmin) ReloadData(ctx context.Context) (*steward.DataSchema, error) {
	a, err := authorize(ctx, steward.PermConfigWrite)
	if err != nil {
		return nil, err
	}
	cat, err := d.reload(ctx)
	if err != nil {
		d.log.Error("data admin: reload", "err", err)
		return nil, &steward.Error{Code: steward.CodeUnavailable, Message: "reloading the data tables failed: " + err.Error()}
	}
	names := make([]string, 0, len(cat.Tables))
	for _, t := range cat.Tables {
		names = append(names, t.Name)
	}
	err = d.update(ctx, func(tx store.Tx) error {
		return d.audit(ctx, tx, event{Action: "data.reload", TargetType: "data", Metadata: map[string]any{"tables": names}})
	})
	if err != nil {
		return nil, err
	}
	return d.schemaFor(cat, a), nil
}

// rowOf is a row as the API shows it: every selected column that is not
// redacted (a redacted key column is selected for paths and cursors only).
func rowOf(cols []*steward.DataColumn, vals []any) steward.DataRow {
	row := make(steward.DataRow, len(cols))
	for i, c := range cols {
		if !c.Redacted {
			row[c.Name] = datatables.ToJSON(c, vals[i])
		}
	}
	return row
}

// etagOf is the row's version: a hash of its visible values (json.Marshal
// writes a map's keys sorted, so the same values hash the same).
func etagOf(row steward.DataRow) string {
	b, _ := json.Marshal(row)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// ListRows implements steward.DataAdminService.
func (d *DataAdmin) ListRows(ctx context.Context, table string, q steward.DataListQuery) (*steward.Page[steward.DataRow], error) {
	t, err := d.table(ctx, table, opRead)
	if err != nil {
		return nil, err
	}
	p, err := datatables.BuildList(t, t.Src.Dialect(), datatables.ListRequest{Filters: q.Filters, Q: q.Q, Sort: q.Sort,
		Limit: q.Limit, Cursor: q.Cursor})
	if err != nil {
		return nil, err
	}
	var rows [][]any
	err = t.Src.Read(ctx, func(rq store.RawQuerier) error {
		_, rows, err = rq.QueryRaw(ctx, p.SQL, p.Args...)
		return err
	})
	if err != nil {
		return nil, datatables.Classify(t, err)
	}
	out := make([]steward.DataRow, len(rows))
	for i, r := range rows {
		out[i] = rowOf(p.Columns, r)
	}
	pg := page(out, p.Limit, func(steward.DataRow) string { return "" })
	if pg.HasMore && len(t.PrimaryKey) > 0 {
		c := p.Cursor(rows[p.Limit-1])
		pg.NextCursor = &c
	} else if pg.HasMore {
		pg.NextCursor = nil // no key: one page only (docs/data-admin.md)
	}
	return pg, nil
}

// readRow reads one row by key with rq; nil when there is none.
func readRow(ctx context.Context, rq store.RawQuerier, t *datatables.Table, key []any, lock bool) ([]*steward.DataColumn, []any, error) {
	st, cols := datatables.BuildGet(t, rq.Dialect(), key, lock)
	_, rows, err := rq.QueryRaw(ctx, st.SQL, st.Args...)
	if err != nil || len(rows) == 0 {
		return cols, nil, err
	}
	return cols, rows[0], nil
}

func rowNotFound(t *datatables.Table, key string) error {
	return &steward.Error{Code: steward.CodeNotFound, Message: t.Name + " has no row " + quoteName(key),
		Details: map[string]any{"table": t.Name, "key": key}}
}

// GetRow implements steward.DataAdminService.
func (d *DataAdmin) GetRow(ctx context.Context, table, key string) (*steward.DataRecord, error) {
	t, err := d.table(ctx, table, opRead)
	if err != nil {
		return nil, err
	}
	kv, err := datatables.ParseKey(t, t.Src.Dialect(), key)
	if err != nil {
		return nil, err
	}
	var cols []*steward.DataColumn
	var vals []any
	err = t.Src.Read(ctx, func(rq store.RawQuerier) error {
		cols, vals, err = readRow(ctx, rq, t, kv, false)
		return err
	})
	if err != nil {
		return nil, datatables.Classify(t, err)
	}
	if vals == nil {
		return nil, rowNotFound(t, key)
	}
	row := rowOf(cols, vals)
	return &steward.DataRecord{Row: row, ETag: etagOf(row)}, nil
}

// assignments checks a write's values against the table: every field
// known, none redacted (FIELD_REDACTED) or read-only (FIELD_READ_ONLY,
// the key too on update), each value valid for its column; all the bad
// values are named at once.
func assignments(t *datatables.Table, values map[string]json.RawMessage, update bool) ([]datatables.Assignment, error) {
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		c := t.Column(name)
		switch {
		case c == nil:
			continue // named below with the other invalid fields
		case c.Redacted:
			return nil, datatables.RedactedError(name)
		case c.ReadOnly:
			return nil, datatables.ReadOnlyError(name, "the table's configuration denies edits to it")
		case c.Type == steward.DataUnknown:
			return nil, datatables.ReadOnlyError(name, "its type ("+c.DBType+") is not one the data admin writes")
		case update && c.PrimaryKey > 0:
			return nil, datatables.ReadOnlyError(name, "it is part of the primary key")
		}
	}
	fe := steward.FieldErrors{}
	var set []datatables.Assignment
	for _, col := range t.Columns {
		raw, ok := values[col.Name]
		if !ok {
			continue
		}
		c := t.Column(col.Name)
		v, msg := datatables.FromJSON(t.Src.Dialect(), c, raw)
		if msg != "" {
			fe.Add(c.Name, msg)
			continue
		}
		set = append(set, datatables.Assignment{Column: c, Value: v})
	}
	for _, name := range names {
		if t.Column(name) == nil {
			fe.Add(name, "is not a field of "+t.Name)
		}
	}
	if update && len(values) == 0 {
		fe.Add("row", "give at least one field to change")
	}
	return set, fe.Err()
}

// changesOf are the visible fields whose values differ between before
// and after (nil for an insert's before or a delete's after).
func changesOf(before, after steward.DataRow) map[string]change {
	out := map[string]change{}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range keys {
		var b, a any
		if before != nil {
			b = before[k]
		}
		if after != nil {
			a = after[k]
		}
		bj, _ := json.Marshal(b)
		aj, _ := json.Marshal(a)
		if !bytes.Equal(bj, aj) {
			out[k] = change{Before: b, After: a}
		}
	}
	return out
}

// The audit guarantee an entry's metadata states (docs/data-admin.md#audit).
const (
	guaranteeSameTx      = "same_transaction"
	guaranteeAuditFirst  = "audit_committed_first"
	guaranteeDescription = "the audit entry was committed in Steward's database before the source's transaction committed; " +
		"a crash between the two commits leaves this entry for a change that did not happen"
)

// write runs fn on the table's source in one transaction with the audit
// entry fn returns. For Steward's own database both commit together. For
// another source the entry is committed in Steward's database first and
// the source's transaction after it, so no change is ever unaudited.
func (d *DataAdmin) write(ctx context.Context, t *datatables.Table, fn func(rq store.RawQuerier) (*event, error)) error {
	meta := func(ev *event, guarantee string) {
		m := map[string]any{"table": t.Name, "source": t.Src.Name(), "guarantee": guarantee}
		if guarantee == guaranteeAuditFirst {
			m["guarantee_detail"] = guaranteeDescription
		}
		ev.Metadata = m
	}
	if t.Src.Own() {
		return d.update(ctx, func(tx store.Tx) error {
			ev, err := fn(tx.Raw())
			if err != nil {
				return datatables.Classify(t, err)
			}
			meta(ev, guaranteeSameTx)
			return d.audit(ctx, tx, *ev)
		})
	}
	return t.Src.Write(ctx, func(rq store.RawQuerier) error {
		ev, err := fn(rq)
		if err != nil {
			return datatables.Classify(t, err)
		}
		meta(ev, guaranteeAuditFirst)
		return d.update(ctx, func(tx store.Tx) error { return d.audit(ctx, tx, *ev) })
	})
}

func dataEvent(action string, t *datatables.Table, key string, changes map[string]change) *event {
	return &event{Action: action, TargetType: "data:" + t.Name, TargetID: key, Changes: changes}
}

// InsertRow implements steward.DataAdminService.
func (d *DataAdmin) InsertRow(ctx context.Context, table string, values map[string]json.RawMessage) (*steward.DataRecord, error) {
	t, err := d.table(ctx, table, opInsert)
	if err != nil {
		return nil, err
	}
	set, err := assignments(t, values, false)
	if err != nil {
		return nil, err
	}
	var row steward.DataRow
	err = d.write(ctx, t, func(rq store.RawQuerier) (*event, error) {
		st, cols := datatables.BuildInsert(t, rq.Dialect(), set)
		_, rows, err := rq.QueryRaw(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		if len(rows) != 1 {
			return nil, errors.New("data admin: insert returned no row")
		}
		row = rowOf(cols, rows[0])
		return dataEvent("data.insert", t, datatables.FormatKey(t, cols, rows[0]), changesOf(nil, row)), nil
	})
	if err != nil {
		return nil, err
	}
	return &steward.DataRecord{Row: row, ETag: etagOf(row)}, nil
}

// ifMatchFailed is PRECONDITION_FAILED with the row's current version.
func ifMatchFailed(t *datatables.Table, key, current string) error {
	return &steward.Error{Code: steward.CodePreconditionFailed,
		Message: "the row changed since you read it: read it again, then retry",
		Details: map[string]any{"table": t.Name, "key": key, "etag": current}}
}

// UpdateRow implements steward.DataAdminService. The row is read locked
// inside the writing transaction, so If-Match compares with the version
// the update replaces.
func (d *DataAdmin) UpdateRow(ctx context.Context, table, key, ifMatch string, values map[string]json.RawMessage) (*steward.DataRecord, error) {
	t, err := d.table(ctx, table, opUpdate)
	if err != nil {
		return nil, err
	}
	kv, err := datatables.ParseKey(t, t.Src.Dialect(), key)
	if err != nil {
		return nil, err
	}
	set, err := assignments(t, values, true)
	if err != nil {
		return nil, err
	}
	var row steward.DataRow
	err = d.write(ctx, t, func(rq store.RawQuerier) (*event, error) {
		cols, vals, err := readRow(ctx, rq, t, kv, true)
		if err != nil {
			return nil, err
		}
		if vals == nil {
			return nil, rowNotFound(t, key)
		}
		before := rowOf(cols, vals)
		if tag := etagOf(before); ifMatch != "" && ifMatch != tag {
			return nil, ifMatchFailed(t, key, tag)
		}
		st, cols := datatables.BuildUpdate(t, rq.Dialect(), kv, set)
		_, rows, err := rq.QueryRaw(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		if len(rows) != 1 {
			return nil, rowNotFound(t, key)
		}
		row = rowOf(cols, rows[0])
		return dataEvent("data.update", t, datatables.FormatKey(t, cols, rows[0]), changesOf(before, row)), nil
	})
	if err != nil {
		return nil, err
	}
	return &steward.DataRecord{Row: row, ETag: etagOf(row)}, nil
}

// DeleteRow implements steward.DataAdminService.
func (d *DataAdmin) DeleteRow(ctx context.Context, table, key, ifMatch string) error {
	t, err := d.table(ctx, table, opDelete)
	if err != nil {
		return err
	}
	if t.DenyDelete {
		return &steward.Error{Code: steward.CodeDeleteDenied, Message: t.Name + " denies deletes",
			Details: map[string]any{"table": t.Name}}
	}
	kv, err := datatables.ParseKey(t, t.Src.Dialect(), key)
	if err != nil {
		return err
	}
	return d.write(ctx, t, func(rq store.RawQuerier) (*event, error) {
		cols, vals, err := readRow(ctx, rq, t, kv, true)
		if err != nil {
			return nil, err
		}
		if vals == nil {
			return nil, rowNotFound(t, key)
		}
		before := rowOf(cols, vals)
		if tag := etagOf(before); ifMatch != "" && ifMatch != tag {
			return nil, ifMatchFailed(t, key, tag)
		}
		st := datatables.BuildDelete(t, rq.Dialect(), kv)
		n, err := rq.ExecRaw(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		if n != 1 {
			return nil, rowNotFound(t, key)
		}
		return dataEvent("data.delete", t, datatables.FormatKey(t, cols, vals), changesOf(before, nil)), nil
	})
}

// ExportRows implements steward.DataExporter: audited data.export first,
// then every page of the list in order.
func (d *DataAdmin) ExportRows(ctx context.Context, table string, q steward.DataListQuery, format string,
	head func(fields []string) error, row func(steward.DataRow) error) error {
	t, err := d.table(ctx, table, opRead)
	if err != nil {
		return err
	}
	if format != "ndjson" && format != "csv" {
		return steward.FieldError("format", "must be ndjson or csv")
	}
	req := datatables.ListRequest{Filters: q.Filters, Q: q.Q, Sort: q.Sort, Limit: steward.MaxLimit}
	p, err := datatables.BuildList(t, t.Src.Dialect(), req) // refuse a bad filter before auditing
	if err != nil {
		return err
	}
	err = d.update(ctx, func(tx store.Tx) error {
		return d.audit(ctx, tx, event{Action: "data.export", TargetType: "data:" + t.Name,
			Metadata: map[string]any{"table": t.Name, "format": format, "filters": q.Filters, "q": q.Q, "sort": q.Sort}})
	})
	if err != nil {
		return err
	}
	var fields []string
	for _, c := range p.Columns {
		if !c.Redacted {
			fields = append(fields, c.Name)
		}
	}
	if err := head(fields); err != nil {
		return err
	}
	for {
		var rows [][]any
		err = t.Src.Read(ctx, func(rq store.RawQuerier) error {
			_, rows, err = rq.QueryRaw(ctx, p.SQL, p.Args...)
			return err
		})
		if err != nil {
			return datatables.Classify(t, err)
		}
		more := len(rows) > p.Limit
		if more {
			rows = rows[:p.Limit]
		}
		for _, r := range rows {
			if err := row(rowOf(p.Columns, r)); err != nil {
				return err
			}
		}
		// A table without a key has one page (no cursor to continue by).
		if !more || len(t.PrimaryKey) == 0 {
			return nil
		}
		req.Cursor = p.Cursor(rows[len(rows)-1])
		if p, err = datatables.BuildList(t, t.Src.Dialect(), req); err != nil {
			return err
		}
	}
}
