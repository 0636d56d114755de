package httpstream

import (
	"bufio"
	"bytes"
	"io"
)

// lineReader splits a stream into lines ended by CR, LF or CRLF, the line
// endings of server-sent events (a CRLF split across two reads is one
// line ending). NDJSON lines end with LF or CRLF; a JSON value holds no
// raw CR, so the same splitting serves both framings.
type lineReader struct {
	r      *bufio.Reader
	max    int    // longest line kept, in bytes
	line   []byte // the current line, reused
	skipLF bool   // the last line ended in CR: an LF right after belongs to it
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its ending, and whether it was
// longer than max (then only its first max bytes are returned; the rest
// was read and dropped). The line is valid until the next call. At the
// end of the stream it returns the error; a last line without an ending
// is returned with it (io.EOF when the stream ended cleanly).
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	l.line = l.line[:0]
	for {
		if _, err := l.r.Peek(1); err != nil {
			return l.line, tooLong, err
		}
		buf, _ := l.r.Peek(l.r.Buffered())
		if l.skipLF {
			l.skipLF = false
			if buf[0] == '\n' {
				l.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			tooLong = l.add(buf) || tooLong
			l.r.Discard(len(buf))
			continue
		}
		tooLong = l.add(buf[:i]) || tooLong
		n := i + 1
		if buf[i] == '\r' {
			if i+1 < len(buf) {
				if buf[i+1] == '\n' {
					n++
				}
			} else {
				l.skipLF = true
			}
		}
		l.r.Discard(n)
		return l.line, tooLong, nil
	}
}

// add appends b to the line up to max bytes; it reports whether bytes
// were dropped.
func (l *lineReader) add(b []byte) bool {
	room := l.max - len(l.line)
	if len(b) > room {
		l.line = append(l.line, b[:max(room, 0)]...)
		return true
	}
	l.line = append(l.line, b...)
	return false
}
