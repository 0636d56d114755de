package httpstream

import (
	"bytes"
	"strings"
	"testing"
)

// benchmarkFraming measures framing a stream of 1000 messages of about
// 600 bytes (an X post with expansions is of that order).
func benchmarkFraming(b *testing.B, framing Framing) {
	msg := `{"data":{"id":"1234567890123456789","text":"` + strings.Repeat("lorem ipsum ", 40) + `"},"matching_rules":[{"id":"1","tag":"cats"}]}`
	var in bytes.Buffer
	for i := range 1000 {
		if framing == SSE {
			in.WriteString("id: " + itoa(i) + "\r\ndata: " + msg + "\r\n\r\n")
		} else {
			in.WriteString(msg + "\r\n")
		}
	}
	b.SetBytes(int64(in.Len()))
	b.ReportAllocs()
	for b.Loop() {
		lr := newLineReader(bytes.NewReader(in.Bytes()), 1<<20)
		var p parser = &ndjsonParser{max: 1 << 20}
		if framing == SSE {
			p = &sseParser{max: 1 << 20}
		}
		n := 0
		for {
			line, tooLong, err := lr.next()
			if err != nil {
				break
			}
			if f := p.line(line, tooLong); f.ok {
				n++
			}
		}
		if n != 1000 {
			b.Fatalf("%d messages", n)
		}
	}
}

func BenchmarkFramingNDJSON(b *testing.B) { benchmarkFraming(b, NDJSON) }
func BenchmarkFramingSSE(b *testing.B)    { benchmarkFraming(b, SSE) }
