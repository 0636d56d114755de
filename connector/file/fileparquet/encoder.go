package fileparquet

import (
	"fmt"
	"io"
	"reflect"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/connector/file"
)

// Encoder returns the encoder of Parquet files of rows of T, a struct type
// (or pointer to one) whose schema parquet-go derives from its fields and
// `parquet:"..."` tags. opts configure parquet-go's writer (compression,
// row group size, ...). It panics when T is not a struct: that is a
// mistake in the job's code, found when the job is built.
func Encoder[T any](opts ...parquet.WriterOption) file.Encoder[T] {
	t := reflect.TypeFor[T]()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("fileparquet.Encoder: %v is not a struct type", reflect.TypeFor[T]()))
	}
	return encoder[T]{opts: opts}
}

type encoder[T any] struct{ opts []parquet.WriterOption }

// Extension is ".parquet".
func (encoder[T]) Extension() string { return ".parquet" }

// Resumable is false: a Parquet file needs its footer.
func (encoder[T]) Resumable() bool { return false }

// batchRows is how many rows the part writer hands parquet-go at once.
const batchRows = 256

func (e encoder[T]) NewPartWriter(w io.Writer, resumed bool) (pw file.PartWriter[T], err error) {
	if resumed {
		return nil, fmt.Errorf("fileparquet: a Parquet part file cannot be resumed")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fileparquet: %v", r)
		}
	}()
	return &partWriter[T]{w: parquet.NewGenericWriter[T](w, e.opts...), buf: make([]T, 0, batchRows)}, nil
}

type partWriter[T any] struct {
	w   *parquet.GenericWriter[T]
	buf []T
}

func (p *partWriter[T]) Write(v T) error {
	p.buf = append(p.buf, v)
	if len(p.buf) == cap(p.buf) {
		return p.flush()
	}
	return nil
}

func (p *partWriter[T]) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.w.Write(p.buf)
	clear(p.buf)
	p.buf = p.buf[:0]
	return err
}

// Finish writes the buffered rows and the footer.
func (p *partWriter[T]) Finish() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}
