package file

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Encoder writes records of type T into the sink's part files. An Encoder
// is shared by all writers of a sink and must be safe for concurrent use;
// its part writers are not.
type Encoder[T any] interface {
	// Extension is the file name extension of finished part files, such as
	// ".jsonl".
	Extension() string
	// Resumable reports whether a prefix of a part file that ends after a
	// record is a valid file: true for row formats, whose part writers
	// write each record completely before Write returns. A resumable part
	// file may stay open across checkpoints; the other kinds (bulk formats
	// such as Parquet, which write a footer when finished) are rolled at
	// every checkpoint.
	Resumable() bool
	// NewPartWriter starts writing a part file to w. resumed says that w
	// continues a part file restored from a checkpoint (only for resumable
	// encoders), which holds a valid prefix already: no header.
	NewPartWriter(w io.Writer, resumed bool) (PartWriter[T], error)
}

// PartWriter writes the records of one part file.
type PartWriter[T any] interface {
	// Write writes one record.
	Write(v T) error
	// Finish completes the file (a footer, for bulk formats). Nothing is
	// written after it.
	Finish() error
}

// RowEncoder returns a resumable encoder: every part file starts with
// header (which may be nil), and encode appends the bytes of one record,
// its line terminator included, to dst. encode must be safe for concurrent
// use.
func RowEncoder[T any](ext string, header []byte, encode func(dst []byte, v T) ([]byte, error)) Encoder[T] {
	return rowEncoder[T]{ext: ext, header: header, encode: encode}
}

// TextEncoder writes each record as a line formatted with fmt's %v
// (extension ".txt").
func TextEncoder[T any]() Encoder[T] {
	return RowEncoder(".txt", nil, func(dst []byte, v T) ([]byte, error) {
		return fmt.Appendf(dst, "%v\n", v), nil
	})
}

// TextEncoderFunc writes each record as the line text(v) (extension
// ".txt"); text's result should not contain newlines.
func TextEncoderFunc[T any](text func(v T) []byte) Encoder[T] {
	return RowEncoder(".txt", nil, func(dst []byte, v T) ([]byte, error) {
		dst = append(dst, text(v)...)
		return append(dst, '\n'), nil
	})
}

// JSONLinesEncoder writes each record as one line of JSON encoded by
// encoding/json (extension ".jsonl").
func JSONLinesEncoder[T any]() Encoder[T] {
	return RowEncoder(".jsonl", nil, func(dst []byte, v T) ([]byte, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return dst, err
		}
		dst = append(dst, b...)
		return append(dst, '\n'), nil
	})
}

// CSVEncoder writes each record as the comma-separated line of
// fields(v), quoted as encoding/csv quotes (extension ".csv"). When header
// is not nil it is the first line of every part file.
func CSVEncoder[T any](fields func(v T) []string, header []string) Encoder[T] {
	var h []byte
	if header != nil {
		h = AppendCSVRecord(nil, header, ',')
	}
	return RowEncoder(".csv", h, func(dst []byte, v T) ([]byte, error) {
		return AppendCSVRecord(dst, fields(v), ','), nil
	})
}

// AppendCSVRecord appends one CSV record of fields separated by comma, and
// "\n", the way encoding/csv's Writer does (without UseCRLF): a field is
// quoted if it holds the delimiter, a quote or a line break, starts with a
// space, or is `\.` (which some databases read as end of data).
func AppendCSVRecord(dst []byte, fields []string, comma rune) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = utf8.AppendRune(dst, comma)
		}
		if !fieldNeedsQuotes(f, comma) {
			dst = append(dst, f...)
			continue
		}
		dst = append(dst, '"')
		dst = append(dst, strings.ReplaceAll(f, `"`, `""`)...)
		dst = append(dst, '"')
	}
	return append(dst, '\n')
}

func fieldNeedsQuotes(f string, comma rune) bool {
	if f == "" {
		return false
	}
	if f == `\.` || strings.ContainsRune(f, comma) || strings.ContainsAny(f, "\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

type rowEncoder[T any] struct {
	ext    string
	header []byte
	encode func([]byte, T) ([]byte, error)
}

func (e rowEncoder[T]) Extension() string { return e.ext }
func (e rowEncoder[T]) Resumable() bool   { return true }

func (e rowEncoder[T]) NewPartWriter(w io.Writer, resumed bool) (PartWriter[T], error) {
	if !resumed && len(e.header) > 0 {
		if _, err := w.Write(e.header); err != nil {
			return nil, err
		}
	}
	return &rowPartWriter[T]{w: w, encode: e.encode}, nil
}

type rowPartWriter[T any] struct {
	w      io.Writer
	encode func([]byte, T) ([]byte, error)
	buf    []byte
}

func (p *rowPartWriter[T]) Write(v T) error {
	b, err := p.encode(p.buf[:0], v)
	if err != nil {
		return err
	}
	p.buf = b
	_, err = p.w.Write(b)
	return err
}

func (p *rowPartWriter[T]) Finish() error { return nil }
