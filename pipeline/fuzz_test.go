package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seeds are the fuzz seed corpus: the examples, testdata, and snippets
// near the edges of the grammar.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, glob := range []string{"../examples/*.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	for _, s := range []string{
		minimal,
		"",
		"---\n---\n",
		"a: &x [*x]\n",
		"source: {type: generator, records: [{a: 1}, {b: [1, 2, {c: d}]}]}\nsink: {type: stdout}\n",
		"source: !!str x\n",
		"steps:\n  - window: {type: session, gap: 0s}\n",
		"name: ${A:-${B}}\n",
		"? [a]\n: b\n",
		"a: |\n  x\n  y\nb: >-\n  z\n",
		"<<: {a: 1}\n",
		"steps: [{filter: 'record.?a.orValue(1) > 0'}]\n",
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzParse checks that loading any document never panics, and that a
// failure is a list of positioned mistakes. Every input compiles CEL, which
// is slow under coverage instrumentation: bound minimization, e.g.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 5m -fuzzminimizetime 2s ./pipeline
func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	vars := env(map[string]string{"INPUT": "in", "OUTPUT": "out", "CHECKPOINTS": "ck", "BROKERS": "b:1", "IN_TOPIC": "i", "OUT_TOPIC": "o"})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data, vars)
		if err != nil {
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a list of mistakes: %T %v", err, err)
			}
			for _, e := range list {
				if !strings.HasPrefix(e.Error(), e.File) {
					t.Fatalf("message does not start with the file: %q", e.Error())
				}
			}
			return
		}
		if p.Source == nil || (p.Sink == nil && len(p.Branches) == 0) {
			t.Fatalf("valid pipeline without source or sink: %+v", p)
		}
	})
}

func TestSeedsLoadOrFailCleanly(t *testing.T) {
	for _, s := range seeds(t) {
		_, err := Parse("s.yaml", s, env(map[string]string{"INPUT": "in", "OUTPUT": "out", "CHECKPOINTS": "ck",
			"BROKERS": "b:1", "IN_TOPIC": "i", "OUT_TOPIC": "o"}))
		var list Errors
		if err != nil && !errors.As(err, &list) {
			t.Errorf("%q: %v", s, err)
		}
	}
}
