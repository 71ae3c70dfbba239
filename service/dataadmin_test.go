package service

import (
	"context"
	"errors"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/datatables"
)

type fakeSource struct {
	name   string
	own    bool
	closed int
}

func (f *fakeSource) Name() string    { return f.name }
func (f *fakeSource) Dialect() string { return "sqlite" }
func (f *fakeSource) Own() bool       { return f.own }
func (f *fakeSource) Close() error    { f.closed++; return nil }
func (f *fakeSource) Read(context.Context, func(store.RawQuerier) error) error {
	return errors.New("not used")
}
func (f *fakeSource) Write(context.Context, func(store.RawQuerier) error) error {
	return errors.New("not used")
}

// TestReloadClosesReplacedSources: a reload closes each external source of
// the old catalog once, unless the new catalog still uses it, and never
// Steward's own database.
func TestReloadClosesReplacedSources(t *testing.T) {
	own, a, b, c := &fakeSource{own: true}, &fakeSource{name: "a"}, &fakeSource{name: "b"}, &fakeSource{name: "c"}
	tab := func(name string, src datatables.Source) *datatables.Table {
		return &datatables.Table{DataTable: steward.DataTable{Name: name}, Src: src}
	}
	old := &datatables.Catalog{Tables: []*datatables.Table{tab("t1", own), tab("t2", a), tab("t3", a), tab("t4", b)}}
	next := &datatables.Catalog{Tables: []*datatables.Table{tab("t1", own), tab("t4", b), tab("t5", c)}}
	if err := closeSources(old, next); err != nil {
		t.Fatal(err)
	}
	if own.closed != 0 || a.closed != 1 || b.closed != 0 || c.closed != 0 {
		t.Errorf("closed own %d, a %d, b %d, c %d; want 0 1 0 0", own.closed, a.closed, b.closed, c.closed)
	}
}

// TestRoleForDefaults: a table without roles gets DefaultDataRoles; an
// override applies to its operation only.
func TestRoleForDefaults(t *testing.T) {
	tb := &steward.DataTable{}
	for op, want := range map[dataOp]steward.Role{opRead: steward.RoleSupport, opInsert: steward.RoleAdmin,
		opUpdate: steward.RoleAdmin, opDelete: steward.RoleOwner} {
		if got := roleFor(tb, op); got != want {
			t.Errorf("%s: %s, want %s", op, got, want)
		}
	}
	tb.Roles.Delete = steward.RoleAdmin
	if roleFor(tb, opDelete) != steward.RoleAdmin || roleFor(tb, opUpdate) != steward.RoleAdmin || allows(tb, steward.RoleSupport, opDelete) {
		t.Error("override")
	}
}

// TestNoLoaderExposesNothing: without a loader, no configured tables is an
// empty catalog, and configured tables are an error at start rather than
// silently nothing.
func TestETagAndChanges(t *testing.T) {
	r1 := steward.DataRow{"a": int64(1), "b": "x"}
	r2 := steward.DataRow{"b": "x", "a": int64(1)}
	if etagOf(r1) != etagOf(r2) || etagOf(r1) == etagOf(steward.DataRow{"a": int64(2), "b": "x"}) {
		t.Error("etag")
	}
	ch := changesOf(r1, steward.DataRow{"a": int64(1), "b": "y"})
	if len(ch) != 1 || ch["b"].Before != "x" || ch["b"].After != "y" {
		t.Errorf("%v", ch)
	}
}
