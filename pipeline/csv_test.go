package pipeline

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// csvData has a header, a row with a quoted field spanning two lines, a
// blank line, a row whose amount is not a number (line 7) and one with a
// field too many (line 9).
const csvData = "id,name,amount,ok\n" +
	"1,ann,1.5,true\n" +
	"2,\"bob\nsmith\",2,false\n" +
	"\n" +
	"3,\"x, y\",,\n" +
	"4,carl,lots,true\n" +
	"5,dan,-1e3,1\n" +
	"6,eve,1,true,extra\n" +
	"7,\"fay \"\"f\"\"\",0.25,f"

// TestFileCSVToCSV runs a CSV file through a filter into CSV part files;
// the bad rows go to the dead-letter output located path:line.
func TestFileCSVToCSV(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.csv"), []byte(csvData), 0o644)
	src := `
source:
  type: file
  path: ${IN}
  format: csv
  csv: {header: true, columns: [id, name, amount, ok], types: {id: int, amount: float, ok: bool}}
steps:
  - filter: id != 7
  - map: {id: id, name: name, cents: "has(record.amount) && amount != null ? int(amount * 100.0) : -1"}
sink:
  type: file
  path: ${OUT}
  format: csv
  csv: {columns: [id, name, cents], header: true}
dead_letter: {type: file, path: "${OUT}-bad"}
`
	if _, err := run(t, src, map[string]string{"IN": in, "OUT": out}); err != nil {
		t.Fatal(err)
	}
	rows := readCSVParts(t, out, "id,name,cents")
	want := [][]string{{"1", "ann", "150"}, {"2", "bob\nsmith", "200"}, {"3", "x, y", "-1"}, {"5", "dan", "-100000"}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got %q\nwant %q", rows, want)
	}
	var locs []string
	for _, l := range readParts(t, out+"-bad") {
		r, err := decodeJSONRecord([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, strings.TrimPrefix(r["location"].(string), in+string(filepath.Separator))+" "+r["raw"].(string))
	}
	sort.Strings(locs)
	if want := []string{"a.csv:7 4,carl,lots,true", "a.csv:9 6,eve,1,true,extra"}; !reflect.DeepEqual(locs, want) {
		t.Errorf("dead letters %q, want %q", locs, want)
	}
}

// readCSVParts reads the visible CSV part files under dir, checks that
// each starts with header, and returns their rows sorted.
func readCSVParts(t *testing.T, dir, header string) [][]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		if filepath.Ext(e.Name()) != ".csv" {
			t.Errorf("part file %s: want extension .csv", e.Name())
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), header+"\n") {
			t.Errorf("part file %s does not start with the header %q", e.Name(), header)
			continue
		}
		rs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		rows = append(rows, rs[1:]...)
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
	return rows
}

// TestFileCSVRestore stops a CSV job abruptly after a checkpoint taken in
// the middle of its input file and restores it: every good row is written
// once and every bad row reported once, at its line, across the two runs.
// A try whose checkpoint was not in the middle of the file is repeated.
func TestFileCSVRestore(t *testing.T) {
	const rows = 40000
	var b strings.Builder
	b.WriteString("id,name,n\n")
	var wantRows [][]string
	var wantBad []string
	line := 2
	for id := range rows {
		switch {
		case id%1000 == 999: // bad: n is not an integer
			fmt.Fprintf(&b, "%d,bad,x%d\n", id, id)
			wantBad = append(wantBad, fmt.Sprintf("in.csv:%d", line))
			line++
		case id%7 == 0: // a name over two lines
			fmt.Fprintf(&b, "%d,\"two\nlines\",%d\n", id, id)
			wantRows = append(wantRows, []string{fmt.Sprint(id), "two\nlines", fmt.Sprint(id)})
			line += 2
		default:
			fmt.Fprintf(&b, "%d,n%d,%d\n", id, id, id)
			wantRows = append(wantRows, []string{fmt.Sprint(id), fmt.Sprintf("n%d", id), fmt.Sprint(id)})
			line++
		}
	}
	slices.SortFunc(wantRows, func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
	sort.Strings(wantBad)
	src := `
source:
  type: file
  path: ${IN}
  format: csv
  csv: {header: true, columns: [id, name, n], types: {id: int, n: int}}
steps:
  - filter: n >= 0
sink:
  type: file
  path: ${OUT}
  format: csv
  csv: {columns: [id, name, n], header: true}
dead_letter: {type: file, path: "${OUT}-bad"}
checkpoints: {interval: 10ms, storage: "${CK}"}
restart: {strategy: none}
`
	for try := 1; ; try++ {
		dir := t.TempDir()
		in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out")
		os.WriteFile(in, []byte(b.String()), 0o644)
		vars := map[string]string{"IN": in, "OUT": out, "CK": filepath.Join(dir, "ck")}
		runUntil(t, src, vars, afterRecords("source", 1000))
		emitted, err := runRestored(t, src, vars)
		if err != nil {
			t.Fatal(err)
		}
		if emitted == 0 || emitted == rows {
			if try == 5 {
				t.Fatalf("no checkpoint in the middle of the file in %d tries", try)
			}
			t.Logf("try %d: the restored run read %d of %d rows; again", try, emitted, rows)
			continue
		}
		t.Logf("try %d: restored in the middle of the file, %d records before its end", try, emitted)
		got := readCSVParts(t, out, "id,name,n")
		if !reflect.DeepEqual(got, wantRows) {
			seen := map[string]int{}
			for _, r := range got {
				seen[r[0]]++
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("row %s written %d times", id, n)
					break
				}
			}
			t.Fatalf("%d rows written, want %d", len(got), len(wantRows))
		}
		var gotBad []string
		for _, l := range readParts(t, out+"-bad") {
			r, err := decodeJSONRecord([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			gotBad = append(gotBad, filepath.Base(r["location"].(string)))
		}
		sort.Strings(gotBad)
		if !reflect.DeepEqual(gotBad, wantBad) {
			t.Errorf("dead letters\n got %v\nwant %v", gotBad, wantBad)
		}
		return
	}
}

// afterRecords stops a job at the first checkpoint that completes after
// the operator with uid had emitted n records when the checkpoint before
// it completed: with one checkpoint at a time, that checkpoint was
// triggered after those records.
func afterRecords(uid string, n int64) func(runtime.JobEvent, *runtime.Job) bool {
	armed := false
	return func(ev runtime.JobEvent, job *runtime.Job) bool {
		if ev.Kind != "checkpoint-completed" {
			return false
		}
		if armed {
			return true
		}
		for _, m := range runtime.SumBySubtask(job.Metrics()) {
			if m.UID == uid && m.RecordsOut >= n {
				armed = true
			}
		}
		return false
	}
}

// runUntil starts the pipeline and cancels it, without a final
// checkpoint, at the first job event for which stop is true. It reports
// whether it stopped the job (false: the job ended first).
func runUntil(t *testing.T, src string, vars map[string]string, stop func(runtime.JobEvent, *runtime.Job) bool) bool {
	t.Helper()
	events := make(chan runtime.JobEvent, 1024)
	job, cancel := start(t, src, vars, Overrides{Logger: quiet, Events: events, Stdout: io.Discard})
	for {
		select {
		case ev := <-events:
			if stop(ev, job) {
				cancel()
				job.Wait()
				return true
			}
		case <-job.Done():
			if err := job.Wait(); err != nil {
				t.Fatalf("first run: %v", err)
			}
			return false
		}
	}
}

// runRestored runs the pipeline restored from its latest checkpoint and
// returns how many records (and bad records) its source emitted.
func runRestored(t *testing.T, src string, vars map[string]string) (int64, error) {
	t.Helper()
	job, _ := start(t, src, vars, Overrides{Logger: quiet, Restore: "latest", Stdout: io.Discard})
	err := job.Wait()
	var n int64
	for _, m := range runtime.SumBySubtask(job.Metrics()) {
		if m.UID == "source" {
			n = m.RecordsOut
		}
	}
	return n, err
}
