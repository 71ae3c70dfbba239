package sqlite

import (
	"context"
	"strconv"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// A q of three or more characters is a substring search answered by the
// trigram index (users_fts). No one query plan suits every term, since the
// page is the newest matches by id and the index yields matches by rowid.
// With a million users, on the benchmark machine:
//
//   - fetching every match and sorting it by id costs about 4–6 µs a match:
//     85 ms for a surname in 14,500 users, 250 ms for a domain in 84,000;
//   - walking the page's index newest first and keeping the matching rows
//     costs about 0.2 µs a row walked, plus about 0.5–1 µs a match to
//     collect the set of matches: 16 ms for that surname, 47 ms for the
//     domain, but 200 ms for a term whose matches are all old;
//   - reading only the newest matches by rowid and sorting those costs
//     about a millisecond, and is the page whenever rowid order agrees with
//     id order over the page's stretch of the id index, which one range
//     scan of that index checks (newestPage) at about 0.09 µs a row.
//
// So searchUsers measures the term before it picks a plan; see there. Every
// plan returns the same rows in the same order.

// searchPlan is how a list with such a q finds its rows. (newestPage reads
// a page with searchListed, over the newest matches only.)
type searchPlan int

const (
	// searchFTS is the plain query: the matches from the index, or the id,
	// with the filters; SQLite picks the plan. Counts use it: they need
	// every match anyway.
	searchFTS searchPlan = iota
	// searchListed fetches and sorts the matches listed in a JSON array of
	// rowids, read from the index beforehand in the same snapshot.
	searchListed
	// searchSorted fetches and sorts every match read from the index.
	searchSorted
	// searchWalk walks the page's index newest first and keeps the rows in
	// the set of matches; the unary + stops SQLite from driving the query
	// from that set instead.
	searchWalk
)

// drivesFromMatches reports whether plan starts from the matches. Its query
// then checks the other filters on the matching rows only (a unary + keeps
// SQLite from walking a filter's index instead, which for a status most
// users have reads most of the table), and sorts the matches by id before it
// reads the page's rows, rather than decoding every column of every match.
func drivesFromMatches(f steward.UserFilter, plan searchPlan) bool {
	return searchesIndex(f.Q) && (plan == searchListed || plan == searchSorted)
}

// searchesIndex reports whether q is long enough for the trigram index.
func searchesIndex(q string) bool { return utf8.RuneCountInString(q) >= 3 }

const (
	// maxListedMatches is how many matches a search lists and sorts at most
	// (searchListed): about 4–7 ms at a thousand, on the benchmark machine.
	maxListedMatches = 1000
	// maxNewestRows and maxWalkRows are how many rows newestPage's check
	// and a walk may be expected to read (searchWalkRows): about 5 ms each,
	// what sorting the thousand-odd matches of a term with more than
	// maxListedMatches costs at least.
	maxNewestRows = 60_000
	maxWalkRows   = 25_000
)

const (
	// searchProbeSQL reads up to ? matching rowids. FTS5 yields matches one
	// by one in rowid order, so the limit bounds its work too.
	searchProbeSQL = "SELECT rowid FROM users_fts WHERE users_fts MATCH ? LIMIT ?"
	// searchNewestSQL reads the ? newest matches by rowid, from rowid ? down.
	searchNewestSQL = "SELECT rowid FROM users_fts WHERE users_fts MATCH ? AND rowid <= ? ORDER BY rowid DESC LIMIT ?"
	lastRowidSQL    = "SELECT coalesce(max(rowid), 0) FROM users"
	rowidBeforeSQL  = "SELECT coalesce((SELECT rowid FROM users WHERE id < ? ORDER BY id DESC LIMIT 1), 0)"
	// outOfOrderSQL and outOfOrderBeforeSQL ask whether any user with an id
	// above ? (and below ?) has a rowid outside [?, ?]: a range scan of the
	// id index, which holds the rowids (the unary + keeps SQLite from
	// scanning the table by rowid instead).
	outOfOrderSQL       = "SELECT EXISTS (SELECT 1 FROM users WHERE id > ? AND (+rowid < ? OR +rowid > ?))"
	outOfOrderBeforeSQL = "SELECT EXISTS (SELECT 1 FROM users WHERE id > ? AND id < ? AND (+rowid < ? OR +rowid > ?))"
)

// searchLimits override maxListedMatches, maxNewestRows and maxWalkRows in
// tests, which force each plan on a small fixture. Zero means the default; a
// negative newest or walk means never.
type searchLimits struct {
	listed       int
	newest, walk int64
}

// searchUsers lists the users matching a q the trigram index answers:
//
//  1. it reads up to maxListedMatches+1 matching rowids from the index; if
//     that is all of them, it fetches and sorts just those (searchListed),
//     which suits a rare term whatever the page;
//  2. otherwise the term is common. It reads the newest matches by rowid
//     below where the page starts, and so estimates how many rows a walk
//     would read to fill the page (searchWalkRows);
//  3. if few, the page is most likely among those newest matches, and
//     newestPage reads it from them when it can prove that;
//  4. if that fails, it walks (searchWalk) when the estimate is small
//     enough, and otherwise, because the matches lie deep in the past or
//     the page is near the end of them, sorts every match (searchSorted).
//
// On the reader pool all of it runs in one read transaction, so what it
// measures is the snapshot the page is read from.
func (q queries) searchUsers(ctx context.Context, f steward.UserFilter) ([]*steward.User, error) {
	n := maxListedMatches
	if q.search.listed > 0 {
		n = q.search.listed
	}
	walkSQL, walkArgs := listUsersSQL(f, searchWalk, "")
	sortedSQL, sortedArgs := listUsersSQL(f, searchSorted, "")
	listedSQL, _ := listUsersSQL(f, searchListed, "")
	db := q.db
	if c, ok := db.(*stmtCache); ok {
		rtx, err := c.begin(ctx, searchProbeSQL, searchNewestSQL, lastRowidSQL, rowidBeforeSQL,
			outOfOrderSQL, outOfOrderBeforeSQL, walkSQL, sortedSQL, listedSQL)
		if err != nil {
			return nil, err
		}
		defer rtx.end()
		db = rtx
	}

	rowids, err := readRowids(ctx, db, searchProbeSQL, ftsPhrase(f.Q), n+1)
	if err != nil {
		return nil, err
	}
	if len(rowids) <= n {
		listedSQL, listedArgs := listUsersSQL(f, searchListed, rowidList(rowids))
		return queryUsers(ctx, db, listedSQL, listedArgs...)
	}

	maxNewest, maxWalk := int64(maxNewestRows), int64(maxWalkRows)
	if q.search.newest != 0 {
		maxNewest = q.search.newest
	}
	if q.search.walk != 0 {
		maxWalk = q.search.walk
	}
	if maxNewest < 0 && maxWalk < 0 {
		return queryUsers(ctx, db, sortedSQL, sortedArgs...)
	}
	start, newest, err := newestMatches(ctx, db, f)
	if err != nil {
		return nil, err
	}
	rows := searchWalkRows(f, start, newest)
	if rows <= maxNewest {
		page, ok, err := newestPage(ctx, db, f, start, newest)
		if err != nil || ok {
			return page, err
		}
	}
	if rows <= maxWalk {
		return queryUsers(ctx, db, walkSQL, walkArgs...)
	}
	return queryUsers(ctx, db, sortedSQL, sortedArgs...)
}

// newestMatches returns the rowid where the page starts, taking rowid order
// for id order (the last user's, or that of the user before f.Before), and
// up to twice the page size of the newest matching rowids from there down.
// Twice, so that the page's other filters usually leave a full page of them.
func newestMatches(ctx context.Context, db querier, f steward.UserFilter) (int64, []int64, error) {
	var start int64
	var err error
	if f.Before == "" {
		err = db.QueryRowContext(ctx, lastRowidSQL).Scan(&start)
	} else {
		err = db.QueryRowContext(ctx, rowidBeforeSQL, f.Before).Scan(&start)
	}
	if err != nil {
		return 0, nil, err
	}
	newest, err := readRowids(ctx, db, searchNewestSQL, ftsPhrase(f.Q), start, 2*limit(f.Limit))
	return start, newest, err
}

// searchWalkRows estimates how many rows a walk reads before its page is
// full: the rowids from where the page starts down to the page-size-th
// newest match. It takes rowid order for id order, which holds for users
// created one after another (both grow with creation), and it assumes the
// other filters keep matches and non-matches alike. Where that is wrong,
// only the choice of plan suffers.
func searchWalkRows(f steward.UserFilter, start int64, newest []int64) int64 {
	n := limit(f.Limit)
	if len(newest) < n {
		return start // too few matches left to fill the page: the walk reads to the end
	}
	return start - newest[n-1] + 1
}

// newestPage reads the page from the newest matches alone (searchListed over
// them), and reports whether that is the page. It is, if no user whose id
// lies between the page's last row and f.Before has a rowid outside the
// stretch the newest matches were read from (below start, down to the oldest
// of them): every match in that stretch is among them, so no match missing
// from them can sort into the page. The check is one range scan of the id
// index over the rows the page spans, which is what a walk would read
// without its set of every match.
func newestPage(ctx context.Context, db querier, f steward.UserFilter, start int64, newest []int64) ([]*steward.User, bool, error) {
	n := limit(f.Limit)
	if len(newest) == 0 {
		return nil, false, nil
	}
	listedSQL, listedArgs := listUsersSQL(f, searchListed, rowidList(newest))
	page, err := queryUsers(ctx, db, listedSQL, listedArgs...)
	if err != nil || len(page) < n {
		return nil, false, err
	}
	last, oldest := page[n-1].ID, newest[len(newest)-1]
	if len(newest) < 2*n {
		oldest = 0 // they are every match from start down
	}
	var outOfOrder bool
	if f.Before == "" {
		err = db.QueryRowContext(ctx, outOfOrderSQL, last, oldest, start).Scan(&outOfOrder)
	} else {
		err = db.QueryRowContext(ctx, outOfOrderBeforeSQL, last, f.Before, oldest, start).Scan(&outOfOrder)
	}
	if err != nil || outOfOrder {
		return nil, false, err
	}
	return page, true, nil
}

// rowidList spells rowids as a JSON array, for json_each.
func rowidList(rowids []int64) string {
	b := make([]byte, 0, 8*len(rowids)+2)
	b = append(b, '[')
	for i, r := range rowids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, r, 10)
	}
	return string(append(b, ']'))
}

// readRowids runs a query of one integer column and returns its values.
func readRowids(ctx context.Context, db querier, query string, args ...any) ([]int64, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Close before the next query on a read transaction's connection.
	return out, rows.Close()
}
