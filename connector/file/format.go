package file

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Position is a place in a file's content: the byte offset where a record
// starts and the number of its first line (1-based). For gzip files the
// offset counts bytes of the uncompressed content.
type Position struct {
	Offset int64
	Line   int64
}

// DecoderConfig tells a decoder where its input starts.
type DecoderConfig struct {
	// Start is the position of the first byte the decoder reads: the
	// beginning of the file ({0, 1}) or the start of a record.
	Start Position
	// MaxRecordSize bounds the bytes of one record; a longer record is a
	// bad record (*RecordError wrapping ErrRecordTooLarge). 0 means
	// DefaultMaxRecordSize.
	MaxRecordSize int
}

// DefaultMaxRecordSize is the record size limit when none is configured.
const DefaultMaxRecordSize = 16 << 20

// Format decodes the records of files into values of type T. A Format is
// shared by all readers of a source and must be safe for concurrent use;
// its decoders are not.
type Format[T any] interface {
	// NewDecoder returns a decoder of the records in r, whose first byte
	// is at cfg.Start.
	NewDecoder(r io.Reader, cfg DecoderConfig) Decoder[T]
}

// Decoder reads records one after the other.
type Decoder[T any] interface {
	// Next returns the next record. At the end of the input it returns
	// io.EOF. A record that cannot be decoded yields a *RecordError, after
	// which the decoder has moved past the record and Next may be called
	// again. Any other error is an I/O error that ends decoding.
	Next() (T, error)
	// Position is where the record after the last one Next returned (or
	// rejected) starts: the progress to checkpoint.
	Position() Position
}

// RecordError is a record that does not decode.
type RecordError struct {
	// Line is the number of the record's first line.
	Line int64
	// Raw is the record's bytes, truncated to MaxRecordSize.
	Raw []byte
	// Err says what is wrong.
	Err error
}

// Error names the line and the cause.
func (e *RecordError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// ErrRecordTooLarge is wrapped by the RecordError of a record longer than
// the decoder's MaxRecordSize.
var ErrRecordTooLarge = errors.New("record too large")

// ErrSkip, returned by the decode function of a LineFormat, skips the line
// without reporting it (blank lines, comments).
var ErrSkip = errors.New("skip this line")

// LineFormat returns a format of one record per line: lines end with "\n"
// or "\r\n", and a last line without a newline counts too. decode must not
// keep line after it returns; it returns ErrSkip for lines that are not
// records, and any other error for a bad record.
func LineFormat[T any](decode func(line []byte) (T, error)) Format[T] {
	return lineFormat[T]{decode: decode}
}

// Lines returns the format of text lines: every line is a record, the
// empty ones too, without its line terminator.
func Lines() Format[string] {
	return LineFormat(func(line []byte) (string, error) { return string(line), nil })
}

// JSONLines returns the format of one JSON value per line (JSON Lines),
// decoded with encoding/json into a new T (a struct, map[string]any, ...).
// Blank lines are skipped.
func JSONLines[T any]() Format[T] {
	return LineFormat(func(line []byte) (T, error) {
		var v T
		if len(bytes.TrimSpace(line)) == 0 {
			return v, ErrSkip
		}
		err := json.Unmarshal(line, &v)
		return v, err
	})
}

type lineFormat[T any] struct {
	decode func([]byte) (T, error)
}

func (f lineFormat[T]) NewDecoder(r io.Reader, cfg DecoderConfig) Decoder[T] {
	return &lineDecoder[T]{lr: newLineReader(r, cfg), decode: f.decode}
}

type lineDecoder[T any] struct {
	lr     *lineReader
	decode func([]byte) (T, error)
}

func (d *lineDecoder[T]) Position() Position { return d.lr.pos }

func (d *lineDecoder[T]) Next() (T, error) {
	var zero T
	for {
		l, err := d.lr.next()
		if err != nil {
			return zero, err
		}
		if l.tooLong {
			return zero, &RecordError{Line: l.start.Line, Raw: bytes.Clone(l.text), Err: fmt.Errorf("%w: line is longer than %d bytes", ErrRecordTooLarge, d.lr.max)}
		}
		v, err := d.decode(trimEOL(l.text))
		if errors.Is(err, ErrSkip) {
			continue
		}
		if err != nil {
			return zero, &RecordError{Line: l.start.Line, Raw: bytes.Clone(trimEOL(l.text)), Err: err}
		}
		return v, nil
	}
}

// trimEOL drops a trailing "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// physLine is one physical line of input.
type physLine struct {
	// text is the line with its terminator; when tooLong, only the first
	// max bytes.
	text    []byte
	start   Position
	size    int  // bytes of the whole line, terminator included
	quotes  int  // '"' bytes in the whole line
	eol     bool // ends with '\n'
	tooLong bool // longer than max, terminator excluded
}

// lineReader cuts input into physical lines and keeps track of the
// position. It never holds more than max+2 bytes of a line.
type lineReader struct {
	br  *bufio.Reader
	pos Position
	max int
	buf []byte
	err error
}

func newLineReader(r io.Reader, cfg DecoderConfig) *lineReader {
	max := cfg.MaxRecordSize
	if max <= 0 {
		max = DefaultMaxRecordSize
	}
	pos := cfg.Start
	if pos.Line < 1 {
		pos.Line = 1
	}
	if pos.Offset < 0 {
		pos.Offset = 0
	}
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), pos: pos, max: max}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// next returns the next physical line; its text is valid until the next
// call.
func (l *lineReader) next() (physLine, error) {
	if l.err != nil {
		return physLine{}, l.err
	}
	pl := physLine{start: l.pos}
	l.buf = l.buf[:0]
	var last2 [2]byte
	for {
		frag, err := l.br.ReadSlice('\n')
		pl.size += len(frag)
		pl.quotes += bytes.Count(frag, quote)
		switch n := len(frag); {
		case n >= 2:
			last2 = [2]byte{frag[n-2], frag[n-1]}
		case n == 1:
			last2 = [2]byte{last2[1], frag[0]}
		}
		if room := l.max + 2 - len(l.buf); room > 0 {
			l.buf = append(l.buf, frag[:min(room, len(frag))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err != io.EOF || pl.size == 0 {
				l.err = err
				return physLine{}, err
			}
			l.err = io.EOF // a last line without newline
		}
		break
	}
	content := pl.size
	if last2[1] == '\n' {
		pl.eol = true
		content--
		if pl.size >= 2 && last2[0] == '\r' {
			content--
		}
	}
	pl.tooLong = content > l.max
	pl.text = l.buf
	if pl.tooLong {
		pl.text = l.buf[:l.max]
	}
	if pl.start.Offset == 0 && bytes.HasPrefix(pl.text, utf8BOM) {
		pl.text = pl.text[len(utf8BOM):]
	}
	l.pos.Offset += int64(pl.size)
	l.pos.Line++
	return pl, nil
}

var quote = []byte{'"'}
