package file

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connector"
)

// NewReader returns the reader of one source subtask. It reads its files
// one after the other and asks the enumerator for the next file when it
// has none left.
func (s *Source[T]) NewReader(ctx connector.ReaderContext) (connector.Reader[T], error) {
	return &reader[T]{src: s, ctx: ctx, avail: make(chan struct{}, 1)}, nil
}

// maxRecordsPerPoll bounds the records one PollNext emits.
const maxRecordsPerPoll = 1024

// maxRawBadRecord bounds the raw bytes a bad record carries.
const maxRawBadRecord = 64 << 10

type reader[T any] struct {
	src       *Source[T]
	ctx       connector.ReaderContext
	splits    []*Split // splits[0] is the one being read
	cur       *openFile[T]
	noMore    bool
	requested bool // a request for work is outstanding
	avail     chan struct{}
}

// openFile is the open file of the split being read.
type openFile[T any] struct {
	f   *os.File
	gz  *gzip.Reader
	dec Decoder[T]
}

func (o *openFile[T]) close() error {
	var err error
	if o.gz != nil {
		err = o.gz.Close()
	}
	return errors.Join(err, o.f.Close())
}

func (r *reader[T]) Start() error {
	if len(r.splits) == 0 {
		r.request()
	}
	return nil
}

func (r *reader[T]) request() {
	if !r.requested && !r.noMore {
		r.requested = true
		r.ctx.RequestSplit()
	}
}

func (r *reader[T]) signal() {
	select {
	case r.avail <- struct{}{}:
	default:
	}
}

func (r *reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	budget := maxRecordsPerPoll
	for budget > 0 {
		if len(r.splits) == 0 {
			if r.noMore {
				return connector.EndOfInput, nil
			}
			r.request()
			return connector.NothingAvailable, nil
		}
		sp := r.splits[0]
		if r.cur == nil {
			o, err := r.open(sp)
			if err != nil {
				return 0, fmt.Errorf("file source: %w", err)
			}
			r.cur = o
		}
		so := out.Split(sp.Path)
		for ; budget > 0; budget-- {
			v, err := r.cur.dec.Next()
			if err == io.EOF {
				if err := r.finish(out); err != nil {
					return 0, err
				}
				break
			}
			pos := r.cur.dec.Position()
			if err != nil {
				var re *RecordError
				if !errors.As(err, &re) {
					return 0, fmt.Errorf("file source: read %s after line %d: %w", sp.Path, sp.Line-1, err)
				}
				sp.Offset, sp.Line = pos.Offset, pos.Line
				raw := re.Raw
				if len(raw) > maxRawBadRecord {
					raw = raw[:maxRawBadRecord]
				}
				bad := connector.BadRecord{Source: r.src.name, Location: sp.Path + ":" + strconv.FormatInt(re.Line, 10), Raw: raw, Error: re.Err.Error()}
				if err := out.Reject(bad); err != nil {
					return 0, err
				}
				continue
			}
			sp.Offset, sp.Line = pos.Offset, pos.Line
			so.Collect(v)
		}
	}
	return connector.MoreAvailable, nil
}

// finish closes the file of splits[0], which has been read to its end.
func (r *reader[T]) finish(out connector.ReaderOutput[T]) error {
	sp := r.splits[0]
	err := r.cur.close()
	r.cur = nil
	r.splits[0] = nil
	r.splits = r.splits[1:]
	out.ReleaseSplit(sp.Path)
	if err != nil {
		return fmt.Errorf("file source: close %s: %w", sp.Path, err)
	}
	return nil
}

func isGzip(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".gz") }

// open opens the split's file at its position. A plain file is seeked to
// it; a gzip file is decompressed from its start and the content before
// the position skipped, which costs time in proportion to the offset.
func (r *reader[T]) open(sp *Split) (*openFile[T], error) {
	f, err := os.Open(sp.Path)
	if err != nil {
		return nil, err
	}
	o := &openFile[T]{f: f}
	var in io.Reader = f
	if isGzip(sp.Path) {
		gz, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
		switch {
		case err == io.EOF: // an empty file: no records
			in = eofReader{}
		case err != nil:
			f.Close()
			return nil, fmt.Errorf("%s: gzip: %w", sp.Path, err)
		default:
			o.gz = gz
			in = gz
		}
		if sp.Offset > 0 {
			if n, err := io.CopyN(io.Discard, in, sp.Offset); err != nil {
				o.close()
				return nil, fmt.Errorf("%s: skip to offset %d of the uncompressed content (reached %d): %w; did the file change after it was read?", sp.Path, sp.Offset, n, err)
			}
		}
	} else if sp.Offset > 0 {
		fi, err := f.Stat()
		if err == nil && fi.Size() < sp.Offset {
			err = fmt.Errorf("the file has %d bytes, fewer than the checkpointed offset %d: did it change after it was read?", fi.Size(), sp.Offset)
		}
		if err == nil {
			_, err = f.Seek(sp.Offset, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", sp.Path, err)
		}
	}
	o.dec = r.src.format.NewDecoder(in, DecoderConfig{Start: Position{Offset: sp.Offset, Line: sp.Line}, MaxRecordSize: r.src.maxRecord})
	return o, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (r *reader[T]) Available() <-chan struct{} { return r.avail }

func (r *reader[T]) AddSplits(splits []connector.Split) error {
	for _, sp := range splits {
		s, ok := sp.(*Split)
		if !ok {
			return fmt.Errorf("%w: %T", errNotFileSplit, sp)
		}
		c := *s
		r.splits = append(r.splits, &c)
	}
	r.requested = false
	r.signal()
	return nil
}

func (r *reader[T]) NoMoreSplits() {
	r.noMore = true
	r.signal()
}

// SnapshotState returns the files being read with the position of their
// next record.
func (r *reader[T]) SnapshotState(int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.splits))
	for _, s := range r.splits {
		c := *s
		out = append(out, &c)
	}
	return out, nil
}

func (r *reader[T]) Close() error {
	if r.cur == nil {
		return nil
	}
	err := r.cur.close()
	r.cur = nil
	return err
}
