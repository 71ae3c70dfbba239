// Command loginflood keeps N clients logging in to a running Steward for a
// while and reports the answers and the server's peak resident memory (read
// from /proc, so Linux only). Half the logins use the right password, half
// an email with no account; each request names its own client address in
// X-Forwarded-For, so start the server with STEWARD_TRUSTED_PROXIES=127.0.0.1/32
// or the per-address throttle answers most of them. docs/security.md has the
// figures and the command.
//
//	loginflood -url http://127.0.0.1:8080 -pid $(pgrep -n steward) \
//	    -email ops@example.com -password '…' -clients 16 -for 5s
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "Steward's base URL")
	pid := flag.Int("pid", 0, "the server's process id, for its resident memory")
	email := flag.String("email", "", "an operator's email")
	password := flag.String("password", "", "its password")
	clients := flag.Int("clients", 16, "concurrent clients")
	dur := flag.Duration("for", 5*time.Second, "how long to keep logging in")
	settle := flag.Duration("settle", 6*time.Second, "how long to watch memory afterwards")
	flag.Parse()
	if *pid == 0 || *email == "" {
		log.Fatal("-pid and -email are required")
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r := rssMiB(*pid); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	var mu sync.Mutex
	statuses := map[int]int{}
	end := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(end); i++ {
				in := map[string]string{"email": *email, "password": *password}
				if i%2 == 1 {
					in = map[string]string{"email": fmt.Sprintf("nobody%d-%d@example.com", c, i), "password": "not-the-password"}
				}
				body, _ := json.Marshal(in)
				req, _ := http.NewRequest(http.MethodPost, *url+"/api/v1/auth/login", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", c, i/250%250, i%250))
				status := 0 // transport error
				if resp, err := http.DefaultClient.Do(req); err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	after := rssMiB(*pid)
	time.Sleep(*settle)
	close(stop)
	fmt.Printf("%d clients for %v: answers %v; peak RSS %d MiB, %d MiB just after, %d MiB %v later\n",
		*clients, *dur, statuses, peak.Load(), after, rssMiB(*pid), *settle)
}

// rssMiB is the process's resident set size in MiB, 0 if unreadable.
func rssMiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb / 1024
		}
	}
	return 0
}
