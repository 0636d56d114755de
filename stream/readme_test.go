package stream_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeTour checks that the code of README.md's "A tour of the Go
// API" is the body of Example_tour, which go test runs and checks.
func TestReadmeTour(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_tour_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, tour, ok := strings.Cut(string(readme), "\n## A tour of the Go API\n")
	if !ok {
		t.Fatal(`README.md has no section "## A tour of the Go API"`)
	}
	_, block, ok := strings.Cut(tour, "```go\n")
	block, _, ok2 := strings.Cut(block, "\n```\n")
	if !ok || !ok2 {
		t.Fatal("the tour in README.md has no ```go code block")
	}
	_, body, ok := strings.Cut(string(example), "\nfunc Example_tour() {\n")
	body, _, ok2 = strings.Cut(body, "\n}\n")
	if !ok || !ok2 {
		t.Fatal("example_tour_test.go has no func Example_tour")
	}
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	want := strings.Split(block, "\n")
	for i := range max(len(lines), len(want)) {
		var got, w string
		if i < len(lines) {
			got = lines[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if got != w {
			t.Fatalf("README.md's tour and the body of Example_tour differ at line %d of the block:\nREADME:  %q\nexample: %q\n"+
				"copy the body of Example_tour (stream/example_tour_test.go), one tab less, into the README", i+1, w, got)
		}
	}
}
