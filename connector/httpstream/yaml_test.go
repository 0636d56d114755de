package httpstream

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestHTTPStreamYAML runs a YAML pipeline with the httpstream source:
// server-sent events of JSON objects, one not JSON (to the dead-letter
// output), one of another type (dropped), a secret header from the
// environment.
func TestHTTPStreamYAML(t *testing.T) {
	const key = "k3y-from-the-environment"
	var mu sync.Mutex
	var gotKey, gotAccept string
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotKey, gotAccept = r.Header.Get("X-Api-Key"), r.Header.Get("Accept-Language")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("id: 1\r\ndata: {\"n\": 1,\r\ndata:  \"s\": \"a\"}\r\n\r\n" +
			"id: 2\r\ndata: not json\r\n\r\n" +
			"event: ping\r\ndata: {}\r\n\r\n" +
			": keep-alive\r\n\r\n" +
			"id: 3\r\ndata: {\"n\": 3}\r\n\r\n"))
	})
	file := t.TempDir() + "/s.yaml"
	writeFile(t, file, `name: s
source:
  type: httpstream
  url: ${URL}
  format: sse
  events: [message]
  headers: {Accept-Language: en}
  headers_env: {X-Api-Key: HS_KEY}
  end_on_close: true
steps:
  - map: {n: n}
sink: {type: stdout}
dead_letter: {type: stdout}
`)
	t.Setenv("HS_KEY", key)
	p, err := pipeline.Load(file, pipeline.WithEnv(lookup(map[string]string{"URL": srv.URL})))
	if err != nil {
		t.Fatal(err)
	}
	var out sluicetest.Buffer
	env, err := pipeline.Build(p, pipeline.Overrides{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := sluicetest.RunErr(env, 30e9); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var records, dead []string
	for _, l := range lines {
		if strings.Contains(l, `"location"`) {
			dead = append(dead, l)
		} else {
			records = append(records, l)
		}
	}
	if strings.Join(records, "|") != `{"n":1}|{"n":3}` {
		t.Fatalf("records %q in %q", records, out.String())
	}
	if len(dead) != 1 || !strings.Contains(dead[0], srv.URL+` connection 1 line 7 (last event ID \"2\")`) || !strings.Contains(dead[0], "not JSON") {
		t.Fatalf("dead letters %q", dead)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotKey != key || gotAccept != "en" {
		t.Fatalf("headers X-Api-Key %q, Accept-Language %q", gotKey, gotAccept)
	}
}
