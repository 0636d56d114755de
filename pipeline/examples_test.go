package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesBuild loads and builds every example and testdata pipeline:
// the examples must keep working.
func TestExamplesBuild(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, more...)
	if len(files) < 4 {
		t.Fatalf("found only %v", files)
	}
	dir := t.TempDir()
	vars := env(map[string]string{"INPUT": dir, "OUTPUT": dir + "/out", "CHECKPOINTS": dir + "/ck",
		"BROKERS": "127.0.0.1:1,127.0.0.1:2", "IN_TOPIC": "in", "OUT_TOPIC": "out"})
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f, vars)
			if err != nil {
				t.Fatal(err)
			}
			env, err := Build(p, Overrides{})
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Validate(); err != nil {
				t.Fatal(err)
			}
			if g := env.Guarantee(); f != "testdata/all-steps.yaml" && g.Guarantee.String() != statedGuarantee(t, f) {
				t.Errorf("guarantee %s, the example states %s:\n%s", g.Guarantee, statedGuarantee(t, f), g)
			}
		})
	}
}

// statedGuarantee is the end-to-end guarantee an example states in a
// "# guarantee: ..." comment line (its first word), exactly-once when it
// states none.
func statedGuarantee(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if g, ok := strings.CutPrefix(line, "# guarantee: "); ok {
			return strings.Fields(g)[0]
		}
	}
	return "exactly-once"
}
