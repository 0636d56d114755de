package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/ops"
)

// servedURL waits for the line of r's log that says where the job serves
// and returns the URL.
func servedURL(t *testing.T, r *running) string {
	t.Helper()
	re := regexp.MustCompile(`"msg":"serving metrics, REST API and dashboard","url":"([^"]+)"`)
	var url string
	r.waitFor(t, func() bool {
		m := re.FindStringSubmatch(r.stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, "the URL of the http endpoint")
	return url
}

// TestStatusSavepointStop runs a job with --http and drives it with
// sluice status, savepoint and stop.
func TestStatusSavepointStop(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "job.yaml")
	ck := filepath.Join(dir, "ck")
	os.WriteFile(f, []byte("name: remote\nsource: {type: generator, rate: 2000, fields: {n: i}}\nsink: {type: stdout}\n"+
		"checkpoints: {interval: 100ms, storage: "+ck+"}\n"), 0o644)
	vars := map[string]string{ops.TokenEnv: "s3cret"}
	r := start(t, vars, "run", f, "--http", "127.0.0.1:0")
	url := servedURL(t, r)
	if strings.Contains(r.stderr.String(), "s3cret") {
		t.Error("the log shows the token taken from the environment")
	}
	r.waitFor(t, func() bool { return regexp.MustCompile(`"stdout\.in":[1-9]`).MatchString(r.stderr.String()) }, "records at the sink")

	out, errOut, code := sluice(t, nil, nil, "status", url)
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s", code, errOut)
	}
	for _, w := range []string{`job "remote": running`, "end-to-end guarantee:", "checkpoints: every 100ms", "generator", "stdout"} {
		if !strings.Contains(out, w) {
			t.Errorf("status lacks %q:\n%s", w, out)
		}
	}
	out, errOut, code = sluice(t, nil, nil, "status", strings.TrimPrefix(url, "http://"), "--json")
	var doc struct {
		Job ops.JobInfo `json:"job"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil || doc.Job.Name != "remote" {
		t.Errorf("status --json: exit %d %s\n%s", code, errOut, out)
	}

	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"no token", nil, []string{"savepoint", url}, exitUsage, "token is needed"},
		{"wrong token", nil, []string{"savepoint", url, "--token", "nope"}, exitUsage, "needs the job's token"},
		{"no URL", vars, []string{"savepoint"}, exitUsage, "Usage"},
		{"nothing there", vars, []string{"status", "http://127.0.0.1:1"}, exitFailed, "no job answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := sluice(t, tc.vars, nil, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, errOut)
			}
		})
	}

	out, errOut, code = sluice(t, vars, nil, "savepoint", url)
	if code != exitOK || !strings.Contains(out, filepath.Join(ck, "")) || !strings.Contains(out, "savepoint-") {
		t.Fatalf("savepoint: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(strings.TrimSpace(out)); err != nil {
		t.Errorf("savepoint path: %v", err)
	}
	out, errOut, code = sluice(t, nil, nil, "stop", url, "--token", "s3cret")
	if code != exitOK || !strings.Contains(out, "chk-") {
		t.Fatalf("stop: exit %d\n%s%s", code, out, errOut)
	}
	if code := r.wait(t); code != exitOK {
		t.Fatalf("run after stop: exit %d\n%s", code, r.stderr.String())
	}
}

func TestRunHTTPFlag(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "job.yaml")
	os.WriteFile(f, []byte("source: {type: generator, count: 10, fields: {n: i}}\nsink: {type: stdout}\n"), 0o644)
	for _, tc := range []struct {
		name string
		vars map[string]string
		http string
		code int
		want string
	}{
		{"off", nil, "off", exitOK, ""},
		{"not an address", nil, "8081", exitUsage, "not HOST:PORT"},
		{"beyond localhost without token", nil, "0.0.0.0:0", exitUsage, "needs a token"},
		{"beyond localhost with token", map[string]string{ops.TokenEnv: "t"}, "0.0.0.0:0", exitOK, "serving metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := sluice(t, tc.vars, nil, "run", f, "--http", tc.http)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, errOut)
			}
			if tc.http == "off" && strings.Contains(errOut, "serving metrics") {
				t.Errorf("--http off serves:\n%s", errOut)
			}
		})
	}
}

func TestBenchHTTP(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"served and scraped", []string{"--http", "127.0.0.1:0", "--scrape", "5ms"}, exitOK, `"query":"q0"`},
		{"scrape without http", []string{"--scrape", "1s"}, exitUsage, "with --http"},
		{"bad address", []string{"--http", "nowhere"}, exitUsage, "not HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := sluice(t, nil, nil, append([]string{"bench", "nexmark", "--query", "q0", "--events", "20000"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}
