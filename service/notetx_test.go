package service

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/password"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/store"
)

// TestNoteTxCoversEveryWrite: every method of store.Tx that is not a read
// (store.Queries) is either overridden by noteTx, so that it notes what it
// changes, or listed in authNeutralWrites with why it needs no note. A new
// write method fails here until someone decides which.
func TestNoteTxCoversEveryWrite(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "notetx.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	noted := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || !fn.Name.IsExported() {
			continue
		}
		if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok && id.Name == "noteTx" {
			noted[fn.Name.Name] = true
		}
	}
	txType := reflect.TypeFor[store.Tx]()
	reads := reflect.TypeFor[store.Queries]()
	var missing []string
	writes := map[string]bool{}
	for i := range txType.NumMethod() {
		name := txType.Method(i).Name
		if _, isRead := reads.MethodByName(name); isRead {
			continue
		}
		writes[name] = true
		_, neutral := authNeutralWrites[name]
		switch {
		case noted[name] && neutral:
			t.Errorf("%s is both noted and listed as not touching cached state", name)
		case !noted[name] && !neutral:
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("store.Tx methods neither noted by noteTx (notetx.go) nor listed in authNeutralWrites: %s",
			strings.Join(missing, ", "))
	}
	for name := range authNeutralWrites {
		if !writes[name] {
			t.Errorf("authNeutralWrites lists %s, which is not a writing method of store.Tx", name)
		}
	}
	for name := range noted {
		if !writes[name] {
			t.Errorf("noteTx overrides %s, which is not a writing method of store.Tx", name)
		}
	}
}

// TestNotedCoalesces: a key noted twice is notified once, and past
// maxNotes a transaction asks for everything to be dropped instead.
func TestNotedCoalesces(t *testing.T) {
	var notes []string
	tx := noteTx{notes: &notes}
	tx.note(flagUserKey("usr_1"))
	tx.note(flagUserKey("usr_1"))
	tx.note(sessionKey("ses_1"))
	if got := noted(notes); !slices.Equal(got, []string{"u:usr_1", "s:ses_1"}) {
		t.Fatalf("noted %v", got)
	}
	for i := range maxNotes {
		tx.note(flagUserKey(strings.Repeat("x", i+1)))
	}
	if got := noted(notes); !slices.Equal(got, []string{dropAllKey}) {
		t.Fatalf("past maxNotes: %v", got)
	}
}

// TestAuthCacheKeepsNoRacedFill: a fill that started before an
// invalidation is not kept; entries go with any entity they depend on; a
// listener that is down keeps nothing; keys of the auth cache alone leave
// the flag cache's entries, and a drop-all key empties both.
func TestAuthCacheKeepsNoRacedFill(t *testing.T) {
	c := newAuthCache(func() {})
	c.invalidate(store.FlagsReset)
	_, _, epoch, _ := c.lookup("kh1")
	c.invalidate(apiKeyKey("key_1"))
	c.keep(epoch, "kh1", 1, []string{apiKeyKey("key_1")})
	if c.size() != 0 {
		t.Fatal("a fill that raced an invalidation was kept")
	}
	_, _, epoch, _ = c.lookup("kh1")
	c.keep(epoch, "kh1", 1, []string{apiKeyKey("key_1"), flagUserKey("usr_1"), flagTenantKey("ten_a")})
	c.keep(epoch, "sh1", 2, []string{sessionKey("ses_1"), flagUserKey("usr_2"), flagTenantKey("ten_a")})
	c.keep(epoch, "sh2", 3, []string{sessionKey("ses_2"), flagUserKey("usr_3"), flagTenantKey("ten_b")})
	if c.size() != 3 {
		t.Fatalf("kept %d of 3 fills after the invalidation", c.size())
	}
	if v, hit, _, _ := c.lookup("sh1"); !hit || v != 2 {
		t.Fatalf("lookup sh1: %v %v", v, hit)
	}
	c.invalidate(flagPlatformKey) // the flags' alone
	c.invalidate(flagTenantKey("ten_a"))
	if _, hit, _, _ := c.lookup("kh1"); hit {
		t.Fatal("a tenant's invalidation left a key of the tenant")
	}
	if _, hit, _, _ := c.lookup("sh1"); hit {
		t.Fatal("a tenant's invalidation left a member's session")
	}
	if _, hit, _, _ := c.lookup("sh2"); !hit {
		t.Fatal("a tenant's invalidation dropped another tenant's session")
	}
	if len(c.deps) != 3 { // ses_2, usr_3, ten_b: the index holds no dropped entry
		t.Fatalf("index after the drop: %v", c.deps)
	}
	c.invalidate(flagUserKey("usr_3"))
	if c.size() != 0 || len(c.deps) != 0 {
		t.Fatalf("a user's invalidation left %d entries, index %v", c.size(), c.deps)
	}
	c.invalidate(store.FlagsDown)
	_, _, epoch, live := c.lookup("kh1")
	c.keep(epoch, "kh1", 1, nil)
	if live || c.size() != 0 {
		t.Fatal("a cache whose listener is down kept a fill")
	}

	f := newFlagCache(nil, nil)
	f.live = true
	f.users["usr_1"] = &userFlags{}
	for _, k := range []string{sessionKey("ses_1"), apiKeyKey("key_1"), impersonationKey("imp_1")} {
		f.invalidate(k)
	}
	if f.users["usr_1"] == nil {
		t.Fatal("a key of the auth cache alone flushed the flag cache")
	}
	f.invalidate(dropAllKey)
	if f.users["usr_1"] != nil {
		t.Fatal("the drop-all key left the flag cache's entries")
	}
}

// notifyLog records what each committed write transaction notified.
type notifyLog struct {
	store.Store
	mu    sync.Mutex
	calls [][]string
}

func (l *notifyLog) Update(ctx context.Context, fn func(store.Tx) error) error {
	return l.Store.Update(ctx, func(tx store.Tx) error { return fn(notifyLogTx{tx, l}) })
}

func (l *notifyLog) take() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

type notifyLogTx struct {
	store.Tx
	l *notifyLog
}

func (t notifyLogTx) NotifyFlags(ctx context.Context, keys ...string) error {
	t.l.mu.Lock()
	t.l.calls = append(t.l.calls, slices.Clone(keys))
	t.l.mu.Unlock()
	return t.Tx.NotifyFlags(ctx, keys...)
}

// TestWritesNotifyWhatTheyChange: writes that change nothing a cache holds
// (a grant, a deduct, the key-use flush) notify nothing; a revocation
// notifies its key; a tenant's suspension cascade over 100 members with a
// key each notifies the tenant once, not its members or their keys.
func TestWritesNotifyWhatTheyChange(t *testing.T) {
	be := testdb.Backends(t)[0] // the service's behaviour: one store is enough
	st := &notifyLog{Store: be.Open(t)}
	s := New(Config{Store: st, Password: password.Cheap})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := sysCtx()
	tn, err := s.Tenants.CreateTenant(ctx, &steward.TenantCreate{Name: "Acme", Plan: "scale"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []*steward.CreatedKey
	for i := range 100 {
		u, err := s.Users.CreateUser(ctx, &steward.UserCreate{Email: fmt.Sprintf("m%d@example.com", i), TenantID: tn.ID})
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.Keys.CreateKey(ctx, &steward.KeyCreate{Name: "k", Type: steward.KeyUser, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	for _, k := range keys[:10] {
		if res, err := s.Keys.VerifyKey(ctx, &steward.VerifyRequest{Key: k.Key}); err != nil || !res.Valid {
			t.Fatalf("verify: %v %+v", err, res)
		}
	}
	st.take()

	if _, err := s.Credits.Grant(ctx, &steward.GrantInput{TenantID: tn.ID, Amount: 100, Description: "g"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credits.Deduct(ctx, &steward.DeductInput{TenantID: tn.ID, Amount: 1, Description: "d"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Keys.FlushKeyUses(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.take(); len(got) != 0 {
		t.Fatalf("a grant, a deduct and the key-use flush notified %v", got)
	}
	if _, err := s.Keys.RevokeKey(ctx, keys[0].ID, "test"); err != nil {
		t.Fatal(err)
	}
	if got := st.take(); !slices.EqualFunc(got, [][]string{{apiKeyKey(keys[0].ID)}}, slices.Equal) {
		t.Fatalf("a revocation notified %v", got)
	}
	if _, err := s.Tenants.SuspendTenant(ctx, tn.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if got := st.take(); !slices.EqualFunc(got, [][]string{{flagTenantKey(tn.ID)}}, slices.Equal) {
		t.Fatalf("a suspension cascade over 100 members notified %v", got)
	}
	if res, err := s.Keys.VerifyKey(ctx, &steward.VerifyRequest{Key: keys[1].Key}); err != nil || res.Valid {
		t.Fatalf("a member's key after the suspension: %v %+v", err, res)
	}
}
