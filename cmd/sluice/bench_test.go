package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchNexmarkPrintsJSON(t *testing.T) {
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb}
	if code := a.main([]string{"bench", "nexmark", "--query", "q1", "--events", "20000", "--checkpoint-interval", "50ms"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"query", "events", "parallelism", "seconds", "cpu_seconds", "events_per_sec", "events_per_cpu_sec", "peak_rss_bytes"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result has no %q: %v", k, res)
		}
	}
	if res["query"] != "q1" || res["events"] != float64(20000) {
		t.Errorf("result %v", res)
	}
}

// TestBenchNexmarkRejectsBadFlags: a value that is not allowed ends the
// command with exit 2 and a message saying what is allowed, before any
// event is generated.
func TestBenchNexmarkRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--events", "0"}, `invalid value "0" for flag -events: "0" is not a positive integer`},
		{[]string{"--events", "-5"}, `invalid value "-5" for flag -events`},
		{[]string{"--parallelism", "0"}, `invalid value "0" for flag -parallelism: "0" is not a positive integer`},
		{[]string{"--parallelism", "x"}, `invalid value "x" for flag -parallelism`},
		{[]string{"--query", "q99"}, `--query "q99": use one of q0, q1`},
		{[]string{"--tps", "-1"}, "--tps -1: use a rate of at least 1, or 0"},
		{[]string{"--checkpoint-interval", "-1s"}, "--checkpoint-interval -1s: use a positive duration, or 0 for no checkpoints"},
		{[]string{"q1"}, `unexpected argument "q1"`},
		{nil, "Usage: sluice bench nexmark"}, // no "nexmark"
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"bench", "nexmark"}, tc.args...)
			if tc.args == nil {
				args = []string{"bench"}
			}
			var out, errb bytes.Buffer
			a := &app{stdout: &out, stderr: &errb}
			if code := a.main(args); code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errb.String(), tc.want) || out.Len() != 0 {
				t.Errorf("stdout %q, stderr %q: want %q on stderr only", out.String(), errb.String(), tc.want)
			}
		})
	}
}
