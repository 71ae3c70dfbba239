package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds cmd/steward once per test run, as make build does (static,
// CGO_ENABLED=0), and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped with -short")
	}
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "steward-e2e-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "steward")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/stewardhq/steward/cmd/steward")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// logBuffer collects a process's log lines for the test to read while it
// runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is one running steward serve.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *logBuffer
	done chan error
}

var listenRe = regexp.MustCompile(`url=(http://[0-9.:]+)`)

// start runs `steward serve` on a free port with env (STEWARD_*) and waits,
// bounded, until it answers /readyz; the address is read from its log.
func start(t *testing.T, env []string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &logBuffer{}, done: make(chan error, 1)}
	urls := make(chan string, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(p.logs, sc.Text())
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urls <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.After(30 * time.Second)
	select {
	case p.url = <-urls:
	case err := <-p.done:
		t.Fatalf("steward serve exited before listening: %v\n%s", err, p.logs)
	case <-deadline:
		t.Fatalf("steward serve did not log its address in time:\n%s", p.logs)
	}
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-deadline:
			t.Fatalf("steward serve not ready in time:\n%s", p.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the process with SIGTERM (a graceful shutdown) and waits.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("graceful shutdown: %v\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no shutdown in 30 s:\n%s", p.logs)
	}
}

// call sends a JSON request and decodes a JSON answer; the error is only
// for a request that got no answer at all.
func call(ctx context.Context, client *http.Client, method, url, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, nil
}

// must is call for set-up steps that have to succeed with want.
func must(t *testing.T, method, url, token string, body any, want int) map[string]any {
	t.Helper()
	code, out, err := call(context.Background(), http.DefaultClient, method, url, token, body)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %v %v (want %d)", method, url, code, out, err, want)
	}
	return out
}

// runCmd runs a steward command (doctor, migrate…) to completion.
func runCmd(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
