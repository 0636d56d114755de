package crashtest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/crashtest"
)

func TestCompare(t *testing.T) {
	want := []string{"0=1", "0=2", "1=1", "0=10"}
	if d := crashtest.Compare([]string{"1=1", "0=10", "0=2", "0=1"}, want); !d.OK() {
		t.Fatalf("same lines in another order: %v", d)
	}
	d := crashtest.Compare([]string{"0=1", "0=1", "0=1", "1=1", "0=10", "2=1"}, want)
	if d.OK() {
		t.Fatal("difference not found")
	}
	if len(d.Missing) != 1 || d.Missing[0] != (crashtest.LineCount{Line: "0=2", Want: 1, Got: 0}) {
		t.Errorf("missing %v", d.Missing)
	}
	if len(d.Duplicated) != 1 || d.Duplicated[0] != (crashtest.LineCount{Line: "0=1", Want: 1, Got: 3}) {
		t.Errorf("duplicated %v", d.Duplicated)
	}
	if len(d.Unexpected) != 1 || d.Unexpected[0].Line != "2=1" {
		t.Errorf("unexpected %v", d.Unexpected)
	}
	for _, s := range []string{"1 missing", "1 duplicated", "1 unexpected", `"0=2": want 1, got 0`} {
		if !strings.Contains(d.String(), s) {
			t.Errorf("%q lacks %q", d.String(), s)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	got := []string{"k=10", "k=9", "k=010", "a", "k=1", "k=", "k=9x", "b2", "b10"}
	slices.SortFunc(got, crashtest.NaturalCompare)
	want := []string{"a", "b2", "b10", "k=", "k=1", "k=9", "k=9x", "k=10", "k=010"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
