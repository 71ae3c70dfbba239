package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// version, commit and modified are set by make build with -ldflags "-X …".
// A plain go build leaves them unset and versionString reads the commit from
// the build information the go command stamps into a binary built in a git
// checkout (not with -buildvcs=false, and not in a linked git worktree).
var (
	version  = "dev"
	commit   = ""
	modified = ""
)

// readBuildInfo is debug.ReadBuildInfo, replaceable in tests.
var readBuildInfo = debug.ReadBuildInfo

// versionString is "v1.2.3 (commit 0123456789ab, modified)": the version,
// then the commit and whether the tree had uncommitted changes, when known.
func versionString() string {
	v, rev, dirty := build()
	if rev == "" {
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		return fmt.Sprintf("%s (commit %s, modified)", v, rev)
	}
	return fmt.Sprintf("%s (commit %s)", v, rev)
}

// build is the version, the full commit ("" when unknown) and whether the
// tree had uncommitted changes.
func build() (v, rev string, dirty bool) {
	v, rev, mod := version, commit, modified
	if bi, ok := readBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && rev == "":
				rev = s.Value
			case s.Key == "vcs.modified" && mod == "":
				mod = s.Value
			}
		}
	}
	return v, rev, mod == "true"
}

// dbLocation says where the data lives without the password: the absolute
// path of a SQLite file, or host, port and database of a PostgreSQL URL.
func dbLocation(dsn string) string {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if abs, err := filepath.Abs(path); err == nil {
			return abs
		}
		return path
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable database URL)"
	}
	loc := u.Scheme + "://" + u.Host + u.Path
	if u.User != nil {
		loc = u.Scheme + "://" + u.User.Username() + "@" + u.Host + u.Path
	}
	return loc
}
