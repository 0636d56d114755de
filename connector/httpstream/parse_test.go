package httpstream

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// parseAll frames input read in chunks of the given sizes (cycled; none:
// all at once) and describes the frames, one per string.
func parseAll(t testing.TB, input string, framing Framing, max int, chunks ...int) []string {
	var r io.Reader = strings.NewReader(input)
	if len(chunks) > 0 {
		r = &chunkReader{data: []byte(input), sizes: chunks}
	}
	lr := newLineReader(r, max)
	var p parser = &ndjsonParser{max: max}
	if framing == SSE {
		p = &sseParser{max: max}
	}
	var out []string
	for {
		line, tooLong, err := lr.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("unexpected error %v", err)
			}
			if framing == NDJSON && len(line) > 0 {
				if f := p.line(line, tooLong); f.ok {
					out = append(out, describe(f))
				}
			}
			return out
		}
		if f := p.line(line, tooLong); f.ok {
			out = append(out, describe(f))
		}
	}
}

func describe(f frame) string {
	switch {
	case f.bad != "":
		return "bad:" + f.bad
	case f.idOnly:
		return "id=" + f.ID
	case f.Type != "" || f.ID != "":
		return fmt.Sprintf("%s[%s]%q", f.Type, f.ID, f.Data)
	}
	return string(f.Data)
}

// chunkReader returns data in reads of the given sizes, cycled.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(max(c.sizes[c.i%len(c.sizes)], 1), len(p), len(c.data))
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestNDJSONFraming(t *testing.T) {
	long := strings.Repeat("x", 100)
	cases := []struct {
		name, in string
		want     []string
	}{
		{"LF", "{\"a\":1}\n{\"a\":2}\n", []string{`{"a":1}`, `{"a":2}`}},
		{"CRLF as X sends it", "{\"a\":1}\r\n\r\n{\"a\":2}\r\n", []string{`{"a":1}`, `{"a":2}`}},
		{"keep-alive lines", "\r\n\r\n{\"a\":1}\r\n\r\n", []string{`{"a":1}`}},
		{"last line without an ending", "{\"a\":1}\n{\"a\":2}", []string{`{"a":1}`, `{"a":2}`}},
		{"blank with spaces", "  \n{\"a\":1}\n", []string{`{"a":1}`}},
		{"too long", "{\"a\":1}\n" + long + "\n{\"a\":2}\n", []string{`{"a":1}`, "bad:line longer than 50 bytes (MaxMessageBytes)", `{"a":2}`}},
	}
	for _, c := range cases {
		for _, chunks := range [][]int{nil, {1}, {2, 3}, {7}} {
			t.Run(fmt.Sprintf("%s/%v", c.name, chunks), func(t *testing.T) {
				got := parseAll(t, c.in, NDJSON, 50, chunks...)
				if strings.Join(got, "|") != strings.Join(c.want, "|") {
					t.Fatalf("got %q, want %q", got, c.want)
				}
			})
		}
	}
}

func TestSSEFraming(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"one event", "data: hello\n\n", []string{`message[]"hello"`}},
		{"multi-line data", "data: a\ndata: b\ndata:\n\n", []string{`message[]"a\nb\n"`}},
		{"event, id", "event: tick\nid: 7\ndata: {}\n\n", []string{`tick[7]"{}"`}},
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\n", []string{`message[1]"a"`, `message[1]"b"`}},
		{"id only", "id: 5\n\ndata: x\n\n", []string{"id=5", `message[5]"x"`}},
		{"empty id resets", "id: 5\ndata: a\n\nid\ndata: b\n\n", []string{`message[5]"a"`, `message[]"b"`}},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", []string{`message[1]"a"`, `message[1]"b"`}},
		{"comments", ": keep-alive\n\n:\ndata: a\n: more\n\n", []string{`message[]"a"`}},
		{"no space after colon", "data:a\n\n", []string{`message[]"a"`}},
		{"only one space dropped", "data:  a\n\n", []string{`message[]" a"`}},
		{"field without colon", "data\n\n", []string{`message[]""`}},
		{"unknown field", "foo: bar\ndata: a\n\n", []string{`message[]"a"`}},
		{"CR endings", "data: a\r\rdata: b\r\r", []string{`message[]"a"`, `message[]"b"`}},
		{"CRLF endings", "data: a\r\n\r\ndata: b\r\n\r\n", []string{`message[]"a"`, `message[]"b"`}},
		{"mixed endings", "data: a\r\ndata: b\rdata: c\n\r\n", []string{`message[]"a\nb\nc"`}},
		{"BOM", "\uFEFFdata: a\n\n", []string{`message[]"a"`}},
		{"event type resets", "event: x\ndata: a\n\ndata: b\n\n", []string{`x[]"a"`, `message[]"b"`}},
		{"event without data is dropped with its type", "event: x\n\ndata: b\n\n", []string{`message[]"b"`}},
		{"incomplete event at the end dropped", "data: a\n\ndata: b\n", []string{`message[]"a"`}},
		{"field names are case-sensitive", "Data: a\ndata: b\n\n", []string{`message[]"b"`}},
		{"too long", "data: " + strings.Repeat("y", 60) + "\n\ndata: ok\n\n", []string{"bad:event longer than 50 bytes (MaxMessageBytes)", `message[]"ok"`}},
		{"too much data", strings.Repeat("data: 0123456789\n", 6) + "\ndata: ok\n\n", []string{"bad:event longer than 50 bytes (MaxMessageBytes)", `message[]"ok"`}},
	}
	for _, c := range cases {
		for _, chunks := range [][]int{nil, {1}, {2, 3}, {7}} {
			t.Run(fmt.Sprintf("%s/%v", c.name, chunks), func(t *testing.T) {
				got := parseAll(t, c.in, SSE, 50, chunks...)
				if strings.Join(got, "|") != strings.Join(c.want, "|") {
					t.Fatalf("got %q, want %q", got, c.want)
				}
			})
		}
	}
}

func TestSSERetry(t *testing.T) {
	p := &sseParser{max: 100}
	for _, l := range []string{"retry: 1500", "retry: 1.5", "retry: x"} {
		p.line([]byte(l), false)
	}
	if !p.retrySet || p.retry != 1500*time.Millisecond {
		t.Fatalf("retry %v set %v, want 1.5s", p.retry, p.retrySet)
	}
}

func TestLineReaderLongLinesAcrossReads(t *testing.T) {
	// A 200 KiB line, longer than the reader's buffer, read in odd chunks.
	long := strings.Repeat("z", 200<<10)
	in := long + "\r\n" + "short\n"
	lr := newLineReader(iotest.HalfReader(strings.NewReader(in)), 1<<20)
	line, tooLong, err := lr.next()
	if err != nil || tooLong || string(line) != long {
		t.Fatalf("first line: %d bytes, tooLong %v, err %v", len(line), tooLong, err)
	}
	line, _, err = lr.next()
	if err != nil || string(line) != "short" {
		t.Fatalf("second line %q, %v", line, err)
	}
}

// FuzzNDJSON: framing never panics, does not depend on how the input is
// split into reads, and never returns a line with a line ending or
// longer than the maximum.
func FuzzNDJSON(f *testing.F) {
	for _, s := range []string{"{\"a\":1}\r\n\r\n", "a\nb", "\r\r\n\n", "x\r", strings.Repeat("q", 70) + "\n"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, in string, chunk uint8) {
		whole := parseAll(t, in, NDJSON, 64)
		split := parseAll(t, in, NDJSON, 64, int(chunk%16)+1)
		if strings.Join(whole, "\x00") != strings.Join(split, "\x00") {
			t.Fatalf("whole %q, in chunks of %d %q", whole, chunk%16+1, split)
		}
		for _, l := range whole {
			if strings.ContainsAny(l, "\r\n") || (!strings.HasPrefix(l, "bad:") && len(l) > 64) {
				t.Fatalf("bad line %q", l)
			}
		}
	})
}

// FuzzSSE: parsing never panics, does not depend on how the input is
// split into reads, and keeps data within the maximum.
func FuzzSSE(f *testing.F) {
	for _, s := range []string{"data: a\n\n", "id: 1\r\nevent: x\r\ndata: y\r\n\r\n", ": c\rdata\r\r", "\uFEFFretry: 10\nid\n\n", "data: a\ndata: b\n\n"} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, in string, chunk uint8) {
		whole := parseAll(t, in, SSE, 64)
		split := parseAll(t, in, SSE, 64, int(chunk%16)+1)
		if strings.Join(whole, "\x00") != strings.Join(split, "\x00") {
			t.Fatalf("whole %q, in chunks of %d %q", whole, chunk%16+1, split)
		}
		lr := newLineReader(strings.NewReader(in), 64)
		p := &sseParser{max: 64}
		for {
			line, tooLong, err := lr.next()
			if err != nil {
				break
			}
			if f := p.line(line, tooLong); f.ok && len(f.Data) > 64 {
				t.Fatalf("data of %d bytes", len(f.Data))
			}
		}
	})
}
