package service_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/apptest"
	"github.com/stewardhq/steward/internal/testdb"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/datatables"
)

const benchRows = 1_000_000

// benchOrders is a product table of benchRows rows with the index a
// "paid orders, newest first" list needs: (status, created_at) (the key,
// the rowid on SQLite, follows in the index).
func benchOrders(ctx context.Context, st store.Store) error {
	var stmts []string
	switch st.Dialect() {
	case "sqlite":
		stmts = []string{
			`CREATE TABLE bench_orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL,
				email TEXT NOT NULL, total_cents INTEGER NOT NULL)`,
			fmt.Sprintf(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)
				INSERT INTO bench_orders SELECT i, CASE i %% 4 WHEN 0 THEN 'paid' WHEN 1 THEN 'open' WHEN 2 THEN 'refunded' ELSE 'void' END,
				strftime('%%Y-%%m-%%dT%%H:%%M:%%S.000000Z', 1700000000 + i * 7 - (i %% 13) * 60, 'unixepoch'),
				'user' || i || '@example.com', i %% 10000 FROM c`, benchRows),
			`CREATE INDEX bench_orders_status_created ON bench_orders (status, created_at)`,
			`ANALYZE`,
		}
	case "postgres":
		stmts = []string{
			`CREATE TABLE bench_orders (id bigint PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL,
				email text NOT NULL, total_cents bigint NOT NULL)`,
			fmt.Sprintf(`INSERT INTO bench_orders SELECT i, (ARRAY['paid','open','refunded','void'])[1 + (i + 3) %% 4],
				to_timestamp(1700000000 + i * 7 - (i %% 13) * 60), 'user' || i || '@example.com', i %% 10000
				FROM generate_series(1, %d) AS i`, benchRows),
			`CREATE INDEX bench_orders_status_created ON bench_orders (status, created_at, id)`,
			`ANALYZE bench_orders`,
		}
	}
	return st.Update(ctx, func(tx store.Tx) error { // one transaction
		for _, q := range stmts {
			if _, err := tx.Raw().ExecRaw(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

func benchTable(st store.Store) *datatables.Table {
	ts, tt := steward.DataTimestamp, "TEXT"
	if st.Dialect() == "postgres" {
		tt = "timestamp with time zone"
	}
	return &datatables.Table{Src: datatables.Own(st), DataTable: steward.DataTable{Name: "bench_orders",
		PrimaryKey: []string{"id"}, DefaultSort: "-created_at", Roles: steward.DefaultDataRoles,
		Columns: []steward.DataColumn{
			{Name: "id", Type: steward.DataInteger, PrimaryKey: 1, Indexed: true},
			{Name: "status", Type: steward.DataText, Indexed: true},
			{Name: "created_at", Type: ts, DBType: tt},
			{Name: "email", Type: steward.DataText},
			{Name: "total_cents", Type: steward.DataInteger},
		}}}
}

// BenchmarkDataList: a filtered, sorted list page (status = paid, newest
// first, 50 rows) over a 1,000,000-row table, at page 1 and deep (the
// cursor 100 rows from the end of the 250,000 paid orders), through the
// whole service: authorization, statement, query, conversion. The seeding
// is part of the benchmark's setup, never of the repository.
func BenchmarkDataList(b *testing.B) {
	for _, be := range testdb.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			var seedErr error
			a := apptest.New(b, be, apptest.Options{Service: func(c *service.Config) {
				c.DataLoader = func(ctx context.Context, own store.Store, _ datatables.Config) (*datatables.Catalog, error) {
					if seedErr = benchOrders(ctx, own); seedErr != nil {
						return nil, seedErr
					}
					return &datatables.Catalog{Tables: []*datatables.Table{benchTable(own)}}, nil
				}
			}})
			ctx := apptest.System()
			q := steward.DataListQuery{Filters: []steward.DataFilter{{Field: "status", Op: "eq", Value: "paid"}},
				Sort: "-created_at", ListParams: steward.ListParams{Limit: 50}}
			// The deep cursor: page through once with pages of 200 to the
			// end, keeping the cursor before the last page.
			deep := q
			deep.Limit = 200
			var last string
			for {
				pg, err := a.Svc.Data.ListRows(ctx, "bench_orders", deep)
				if err != nil {
					b.Fatal(err)
				}
				if !pg.HasMore {
					break
				}
				last = *pg.NextCursor
				deep.Cursor = last
			}
			deep.Limit = 50
			for _, c := range []struct {
				name   string
				cursor string
			}{{"page=1", ""}, {"page=deep", last}} {
				b.Run(c.name, func(b *testing.B) {
					q := q
					q.Cursor = c.cursor
					for b.Loop() {
						pg, err := a.Svc.Data.ListRows(ctx, "bench_orders", q)
						if err != nil {
							b.Fatal(err)
						}
						if len(pg.Data) == 0 {
							b.Fatal("empty page")
						}
					}
				})
			}
		})
	}
}
