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
