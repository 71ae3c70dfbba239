// Command dataseed writes the product table bench/data.sh lists through
// the data admin: bench_orders, -rows rows (a quarter "paid"), with the
// index a filtered, newest-first list needs, in a SQLite file of its own
// (the product's database, not Steward's).
//
//	go run ./bench/dataseed -db /tmp/steward-bench/app.db -rows 1000000
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	_ "modernc.org/sqlite"
)

func main() {
	path := flag.String("db", "", "the SQLite file to create (replaced if it exists)")
	rows := flag.Int("rows", 1_000_000, "rows to write")
	flag.Parse()
	if *path == "" || *rows < 1 {
		log.Fatal("usage: dataseed -db FILE [-rows N]")
	}
	if err := seed(*path, *rows); err != nil {
		log.Fatal(err)
	}
}

func seed(path string, rows int) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(wal)&_pragma=synchronous(off)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE bench_orders (id INTEGER PRIMARY KEY, customer_email TEXT NOT NULL,
		status TEXT NOT NULL, total_cents INTEGER NOT NULL, internal_note TEXT, created_at TEXT NOT NULL)`); err != nil {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.Prepare("INSERT INTO bench_orders VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	statuses := []string{"paid", "open", "refunded", "shipped"}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= rows; i++ {
		at := start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		if _, err := ins.Exec(i, fmt.Sprintf("customer%d@example.com", i%50_000), statuses[i%4], i%100_000, "note", at); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// After the rows: one sort at the end builds it faster than row by row.
	_, err = db.Exec("CREATE INDEX bench_orders_status_created ON bench_orders (status, created_at)")
	return err
}
