package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stewardhq/steward/store"
)

// testRaw: the raw querier runs statements with bound values on the
// reader side and inside a write transaction, where its writes commit or
// roll back with the transaction's own.
func testRaw(t *testing.T, s store.Store) {
	ctx := t.Context()
	ph := func(n int) string {
		if s.Raw().Dialect() == "postgres" {
			return fmt.Sprintf("$%d", n)
		}
		return "?"
	}
	if d := s.Raw().Dialect(); d != s.Dialect() {
		t.Fatalf("raw dialect %q, store %q", d, s.Dialect())
	}
	update(t, s, func(tx store.Tx) error {
		_, err := tx.Raw().ExecRaw(ctx, "CREATE TABLE raw_probe (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
		return err
	})
	t.Cleanup(func() {
		_ = s.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Raw().ExecRaw(ctx, "DROP TABLE raw_probe")
			return err
		})
	})
	update(t, s, func(tx store.Tx) error {
		n, err := tx.Raw().ExecRaw(ctx, "INSERT INTO raw_probe (id, name) VALUES ("+ph(1)+", "+ph(2)+")", 1, "a'; DROP TABLE users; --")
		if err != nil || n != 1 {
			return fmt.Errorf("insert: %d %w", n, err)
		}
		// Read inside the transaction: sees its own write.
		_, rows, err := tx.Raw().QueryRaw(ctx, "SELECT name FROM raw_probe WHERE id = "+ph(1), 1)
		if err != nil || len(rows) != 1 {
			return fmt.Errorf("read in tx: %v %w", rows, err)
		}
		return nil
	})
	boom := errors.New("roll back")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Raw().ExecRaw(ctx, "INSERT INTO raw_probe (id, name) VALUES ("+ph(1)+", "+ph(2)+")", 2, "b"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	cols, rows, err := s.Raw().QueryRaw(ctx, "SELECT id, name FROM raw_probe ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 2 || cols[0] != "id" || cols[1] != "name" || len(rows) != 1 || fmt.Sprint(rows[0][0]) != "1" ||
		fmt.Sprint(rows[0][1]) != "a'; DROP TABLE users; --" {
		t.Errorf("rows after a rolled-back insert: %v %v", cols, rows)
	}
}
