package httpstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipeline"
)

func TestYAMLMistakes(t *testing.T) {
	cases := []struct {
		name, source, want string
	}{
		{"no url", "{type: httpstream}", "source.url: missing; the stream's URL"},
		{"bad url", "{type: httpstream, url: 'ftp://x/y'}", "give an absolute http:// or https:// URL"},
		{"bad format", "{type: httpstream, url: 'http://x/', format: xml}", `"xml" is not allowed`},
		{"resume with ndjson", "{type: httpstream, url: 'http://x/', resume: last_event_id}", "last_event_id needs format: sse"},
		{"events with ndjson", "{type: httpstream, url: 'http://x/', events: [a]}", "it needs format: sse"},
		{"headers not a mapping", "{type: httpstream, url: 'http://x/', headers: ['a: b']}", "expected a mapping of header names to values"},
		{"bad header name", "{type: httpstream, url: 'http://x/', headers: {'Bad Name': x}}", `"Bad Name" is not a valid HTTP header name`},
		{"header env not a variable", "{type: httpstream, url: 'http://x/', headers_env: {X-Key: 'my key'}}", `"my key" is not an environment variable name`},
		{"token instead of a variable name", "{type: httpstream, url: 'http://x/', bearer_token_env: 'AAAA-secret.token'}", "is not an environment variable name"},
		{"twitter without token", "{type: twitter}", "source.bearer_token_env: missing"},
		{"twitter rule without value", "{type: twitter, bearer_token_env: T, rules: [{tag: cats}]}", "source.rules[0]: the rule has no value"},
		{"twitter rule with another key", "{type: twitter, bearer_token_env: T, rules: [{value: cat, tags: cats}]}", `unknown key "tags"`},
		{"twitter rule as a string", "{type: twitter, bearer_token_env: T, rules: [cat]}", "expected a record (a mapping)"},
		{"twitter bad base url", "{type: twitter, bearer_token_env: T, base_url: 'x'}", "give an absolute http:// or https:// URL"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			if err := os.WriteFile(file, []byte("name: x\nsource: "+c.source+"\nsink: {type: stdout}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := pipeline.Load(file)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a mistake saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "AAAA-secret.token") && !strings.Contains(c.source, "bearer_token_env: 'AAAA") {
				t.Fatalf("the message quotes a secret: %v", err)
			}
		})
	}
}
