package catalog

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's connector table")

const (
	begin = "<!-- BEGIN CONNECTORS"
	end   = "<!-- END CONNECTORS -->"
)

// TestReadmeConnectors keeps the README's connector table equal to the
// registry (go test ./internal/catalog -update rewrites it).
func TestReadmeConnectors(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", begin, end)
	}
	nl := strings.Index(s[i:], "\n")
	want := s[:i+nl+1] + Table() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's connector table is out of date: run go test ./internal/catalog -update")
}
