package crashtest

import (
	"fmt"
	"slices"
	"strings"
)

// LineCount is how often a line was expected and how often it was found.
type LineCount struct {
	Line      string
	Want, Got int
}

// Diff is the difference between an output and its expectation, both taken
// as multisets of lines (order does not matter).
type Diff struct {
	// Want and Got are the numbers of lines expected and found.
	Want, Got int
	// Missing lines were found fewer times than expected (a gap).
	Missing []LineCount
	// Duplicated lines were expected and found more often (a duplicate).
	Duplicated []LineCount
	// Unexpected lines were not expected at all.
	Unexpected []LineCount
}

// Compare compares got with want as multisets of lines. Each list in the
// result is sorted in natural order (numbers in lines compare as numbers).
func Compare(got, want []string) Diff {
	d := Diff{Want: len(want), Got: len(got)}
	w := map[string]int{}
	for _, l := range want {
		w[l]++
	}
	g := map[string]int{}
	for _, l := range got {
		g[l]++
	}
	for l, n := range w {
		switch m := g[l]; {
		case m < n:
			d.Missing = append(d.Missing, LineCount{l, n, m})
		case m > n:
			d.Duplicated = append(d.Duplicated, LineCount{l, n, m})
		}
	}
	for l, m := range g {
		if w[l] == 0 {
			d.Unexpected = append(d.Unexpected, LineCount{l, 0, m})
		}
	}
	for _, s := range [][]LineCount{d.Missing, d.Duplicated, d.Unexpected} {
		slices.SortFunc(s, func(a, b LineCount) int { return NaturalCompare(a.Line, b.Line) })
	}
	return d
}

// OK reports whether got and want hold the same lines the same number of
// times.
func (d Diff) OK() bool {
	return len(d.Missing) == 0 && len(d.Duplicated) == 0 && len(d.Unexpected) == 0
}

// String describes the difference, listing at most 40 lines of each kind.
func (d Diff) String() string {
	if d.OK() {
		return fmt.Sprintf("all %d lines exactly as expected", d.Want)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "want %d lines, got %d: %d missing, %d duplicated, %d unexpected",
		d.Want, d.Got, len(d.Missing), len(d.Duplicated), len(d.Unexpected))
	list := func(title string, ls []LineCount) {
		if len(ls) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s:", title)
		for i, l := range ls {
			if i == 40 {
				fmt.Fprintf(&b, "\n  ... and %d more", len(ls)-i)
				break
			}
			fmt.Fprintf(&b, "\n  %q: want %d, got %d", l.Line, l.Want, l.Got)
		}
	}
	list("missing", d.Missing)
	list("duplicated", d.Duplicated)
	list("unexpected", d.Unexpected)
	return b.String()
}

// NaturalCompare orders strings with their runs of decimal digits compared
// as numbers ("k=9" before "k=10").
func NaturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			if c := da - db; c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
