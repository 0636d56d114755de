package file

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// CSVOptions configure the CSV format. The zero value reads RFC 4180
// comma-separated values with no header.
type CSVOptions struct {
	// Comma is the field delimiter (default ',').
	Comma rune
	// Comment, when not 0, starts comment lines, which are skipped.
	Comment rune
	// TrimLeadingSpace ignores white space at the start of fields.
	TrimLeadingSpace bool
	// FieldsPerRecord, when > 0, is the number of fields every record must
	// have; a record with another number is a bad record. 0 allows any
	// number (unlike encoding/csv, where 0 means "as many as the first
	// record": a reader restored in the middle of a file has not seen it).
	FieldsPerRecord int
	// SkipHeader drops the first record of every file (a header line).
	SkipHeader bool
}

// CSV returns the format of comma-separated values: each record is the
// slice of its fields. Quoted fields may span lines; records follow the
// rules of encoding/csv (without LazyQuotes), and a record that breaks
// them is a bad record reported with the line it starts on.
func CSV(opts CSVOptions) Format[[]string] {
	if opts.Comma == 0 {
		opts.Comma = ','
	}
	return csvFormat{opts: opts}
}

type csvFormat struct{ opts CSVOptions }

func validDelim(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && utf8.ValidRune(r) && r != utf8.RuneError
}

func (f csvFormat) NewDecoder(r io.Reader, cfg DecoderConfig) Decoder[[]string] {
	d := &csvDecoder{lr: newLineReader(r, cfg), opts: f.opts}
	d.header = f.opts.SkipHeader && d.lr.pos.Offset == 0
	if f.opts.Comma == f.opts.Comment || !validDelim(f.opts.Comma) || (f.opts.Comment != 0 && !validDelim(f.opts.Comment)) {
		d.cfgErr = errors.New("csv: invalid field or comment delimiter")
	}
	return d
}

type csvDecoder struct {
	lr     *lineReader
	opts   CSVOptions
	header bool // the next record is the header to skip
	cfgErr error

	// the record being read
	raw    []byte
	size   int
	quotes int
	buf    []byte
	ends   []int
}

func (d *csvDecoder) Position() Position { return d.lr.pos }

func (d *csvDecoder) Next() ([]string, error) {
	if d.cfgErr != nil {
		return nil, d.cfgErr
	}
	for {
		rec, err := d.record()
		if err != nil {
			if d.header {
				var re *RecordError
				if errors.As(err, &re) {
					d.header = false
				}
			}
			return nil, err
		}
		if d.header {
			d.header = false
			continue
		}
		return rec, nil
	}
}

// csvLine returns the next physical line as encoding/csv sees it: "\r\n"
// normalized to "\n", a "\r" before the end of the input dropped.
func (d *csvDecoder) csvLine() ([]byte, physLine, error) {
	pl, err := d.lr.next()
	if err != nil {
		return nil, pl, err
	}
	d.size += pl.size
	d.quotes += pl.quotes
	if room := d.lr.max - len(d.raw); room > 0 {
		d.raw = append(d.raw, pl.text[:min(room, len(pl.text))]...)
	}
	line := pl.text
	if n := len(line); !pl.eol && n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, pl, nil
}

func lengthNL(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return 1
	}
	return 0
}

func nextRune(b []byte) rune {
	r, _ := utf8.DecodeRune(b)
	return r
}

// record reads one record (encoding/csv's algorithm over our line reader,
// which also counts bytes, lines and quotes for positions, raw bytes and
// the record size limit).
func (d *csvDecoder) record() ([]string, error) {
	var line []byte
	var pl physLine
	var err error
	for {
		d.raw, d.size, d.quotes = d.raw[:0], 0, 0
		line, pl, err = d.csvLine()
		if err != nil {
			return nil, err
		}
		if pl.tooLong {
			break
		}
		if d.opts.Comment != 0 && nextRune(line) == d.opts.Comment {
			continue
		}
		if len(line) == lengthNL(line) {
			continue
		}
		break
	}
	startLine := pl.start.Line
	if pl.tooLong {
		return nil, d.overflow(startLine)
	}
	comma := d.opts.Comma
	commaLen := utf8.RuneLen(comma)
	d.buf = d.buf[:0]
	d.ends = d.ends[:0]
	lineNo, col := startLine, 1
	var perr error
parseField:
	for {
		if d.opts.TrimLeadingSpace {
			i := bytes.IndexFunc(line, func(r rune) bool { return !unicode.IsSpace(r) })
			if i < 0 {
				i = len(line)
				col -= lengthNL(line)
			}
			line = line[i:]
			col += i
		}
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexRune(line, comma)
			field := line
			if i >= 0 {
				field = field[:i]
			} else {
				field = field[:len(field)-lengthNL(field)]
			}
			if j := bytes.IndexByte(field, '"'); j >= 0 {
				perr = &csv.ParseError{StartLine: int(startLine), Line: int(lineNo), Column: col + j, Err: csv.ErrBareQuote}
				break parseField
			}
			d.buf = append(d.buf, field...)
			d.ends = append(d.ends, len(d.buf))
			if i >= 0 {
				line = line[i+commaLen:]
				col += i + commaLen
				continue parseField
			}
			break parseField
		}
		// Quoted field.
		line = line[1:]
		col++
		for {
			i := bytes.IndexByte(line, '"')
			switch {
			case i >= 0:
				d.buf = append(d.buf, line[:i]...)
				line = line[i+1:]
				col += i + 1
				switch rn := nextRune(line); {
				case rn == '"':
					d.buf = append(d.buf, '"')
					line = line[1:]
					col++
				case rn == comma:
					line = line[commaLen:]
					col += commaLen
					d.ends = append(d.ends, len(d.buf))
					continue parseField
				case lengthNL(line) == len(line):
					d.ends = append(d.ends, len(d.buf))
					break parseField
				default:
					perr = &csv.ParseError{StartLine: int(startLine), Line: int(lineNo), Column: col - 1, Err: csv.ErrQuote}
					break parseField
				}
			case len(line) > 0:
				// End of line inside the quoted field: take the next line.
				d.buf = append(d.buf, line...)
				col += len(line)
				line, pl, err = d.csvLine()
				if err == io.EOF {
					line, err = nil, nil
				}
				if err != nil {
					return nil, err
				}
				if pl.tooLong || d.size > d.lr.max {
					return nil, d.overflow(startLine)
				}
				if len(line) > 0 {
					lineNo++
					col = 1
				}
			default:
				// End of input inside the quoted field.
				perr = &csv.ParseError{StartLine: int(startLine), Line: int(lineNo), Column: col, Err: csv.ErrQuote}
				break parseField
			}
		}
	}
	if d.size > d.lr.max {
		return nil, d.overflow(startLine)
	}
	if perr != nil {
		return nil, &RecordError{Line: startLine, Raw: bytes.Clone(trimEOL(d.raw)), Err: perr}
	}
	str := string(d.buf)
	rec := make([]string, len(d.ends))
	prev := 0
	for i, e := range d.ends {
		rec[i] = str[prev:e]
		prev = e
	}
	if n := d.opts.FieldsPerRecord; n > 0 && len(rec) != n {
		return nil, &RecordError{Line: startLine, Raw: bytes.Clone(trimEOL(d.raw)),
			Err: &csv.ParseError{StartLine: int(startLine), Line: int(startLine), Column: 1, Err: fmt.Errorf("%w: %d fields, want %d", csv.ErrFieldCount, len(rec), n)}}
	}
	return rec, nil
}

// overflow skips the rest of a record longer than the size limit: up to
// the end of a line where the record's quotes are balanced (exact for
// valid CSV, where quotes come in pairs around and inside quoted fields).
func (d *csvDecoder) overflow(startLine int64) error {
	for d.quotes%2 == 1 {
		if _, _, err := d.csvLine(); err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
	}
	return &RecordError{Line: startLine, Raw: bytes.Clone(trimEOL(d.raw)), Err: fmt.Errorf("%w: record is longer than %d bytes", ErrRecordTooLarge, d.lr.max)}
}
