package runtime

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/sluicehq/sluice/state"
)

// In-flight records (channel state) of unaligned checkpoints.
//
// A task that took an unaligned snapshot captures, per input gate (one
// network edge), the records that arrive on channels whose barrier has not
// arrived yet. When all barriers arrived, the captured sections are written
// as one file per operator subtask ("<uid>-<subtask>.inflight") and listed
// in the head operator's opStateMeta.
//
// File format (version 1), all integers varints:
//
//	"SLIF" 0x01                       magic and version
//	uvarint  sections
//	per section, in the order of opStateMeta.Inflight:
//	  uvarint records
//	  uvarint bytes
//	  bytes: per record
//	    [uvarint key group]           only for Hash partitioning
//	    varint   timestamp            (NoTimestamp for none)
//	    value                         state.DefaultCodec of the edge type
//
// The storage checksums the file; the decoder still checks every length,
// since a restore must fail with an error, never a panic.

var inflightMagic = []byte{'S', 'L', 'I', 'F', 1}

// ErrCorruptInflight is wrapped by errors about an in-flight records file
// that does not decode.
var ErrCorruptInflight = errors.New("corrupt in-flight records")

// inflightSection is the captured channel state of one input gate.
type inflightSection struct {
	meta inflightMeta
	data []byte
}

// channelState is the complete channel state of one subtask for one
// checkpoint; nil tells the snapshot writer that the checkpoint was given up.
type channelState struct {
	sections []inflightSection
}

func (c *channelState) records() int64 {
	var n int64
	for _, s := range c.sections {
		n += s.meta.Records
	}
	return n
}

// encodeInflightFile writes the sections in order.
func encodeInflightFile(w io.Writer, secs []inflightSection) error {
	hdr := append([]byte(nil), inflightMagic...)
	hdr = binary.AppendUvarint(hdr, uint64(len(secs)))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, s := range secs {
		h := binary.AppendUvarint(nil, uint64(s.meta.Records))
		h = binary.AppendUvarint(h, uint64(len(s.data)))
		if _, err := w.Write(h); err != nil {
			return err
		}
		if _, err := w.Write(s.data); err != nil {
			return err
		}
	}
	return nil
}

// rawSection is one section of a decoded file, values still encoded.
type rawSection struct {
	records int64
	data    []byte
}

// parseInflightFile splits a file into its sections.
func parseInflightFile(b []byte) ([]rawSection, error) {
	if len(b) < len(inflightMagic) || string(b[:4]) != string(inflightMagic[:4]) {
		return nil, fmt.Errorf("%w: bad magic", ErrCorruptInflight)
	}
	if b[4] != inflightMagic[4] {
		return nil, fmt.Errorf("%w: version %d is not supported (this sluice reads version %d)", ErrCorruptInflight, b[4], inflightMagic[4])
	}
	b = b[len(inflightMagic):]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad section count", ErrCorruptInflight)
	}
	b = b[k:]
	secs := make([]rawSection, 0, n)
	for i := range n {
		recs, k := binary.Uvarint(b)
		if k <= 0 || recs > uint64(len(b)) {
			return nil, fmt.Errorf("%w: section %d: bad record count", ErrCorruptInflight, i)
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: section %d: bad length", ErrCorruptInflight, i)
		}
		b = b[k:]
		secs = append(secs, rawSection{records: int64(recs), data: b[:l:l]})
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last section", ErrCorruptInflight, len(b))
	}
	return secs, nil
}

// inflightPart is one restored section a subtask replays into one gate.
type inflightPart struct {
	file    string
	section int
	part    Partitioning // of the section
	// filter keeps only records whose key group is in kgs (Hash sections
	// on rescale).
	filter bool
	kgs    state.KeyGroupRange
	open   func() (io.ReadCloser, error)
}

// decodeInflight decodes the records of a section and calls fn for each one
// that passes the filter.
func decodeInflight[T any](codec state.Codec[T], raw rawSection, hash bool, filter bool, kgs state.KeyGroupRange, fn func(Record[T]) error) error {
	b := raw.data
	for i := range raw.records {
		kg := -1
		if hash {
			u, k := binary.Uvarint(b)
			if k <= 0 || u > uint64(state.MaxMaxParallelism) {
				return fmt.Errorf("%w: record %d: bad key group", ErrCorruptInflight, i)
			}
			kg, b = int(u), b[k:]
		}
		ts, k := binary.Varint(b)
		if k <= 0 {
			return fmt.Errorf("%w: record %d: bad timestamp", ErrCorruptInflight, i)
		}
		b = b[k:]
		v, k, err := codec.Decode(b)
		if err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrCorruptInflight, i, err)
		}
		if k <= 0 || k > len(b) {
			return fmt.Errorf("%w: record %d: bad value length", ErrCorruptInflight, i)
		}
		b = b[k:]
		if filter && !kgs.Contains(kg) {
			continue
		}
		if err := fn(Record[T]{Value: v, Time: ts}); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrCorruptInflight, len(b))
	}
	return nil
}

// gateCapture is a gate's capture buffer for the checkpoint being captured.
type gateCapture struct {
	data    []byte
	records int64
	err     error
}

// captureBatch appends recs to the capture buffer. It runs before the
// records are processed, so that an operator that (wrongly) mutates its
// input cannot change what was captured.
func (g *gate[T]) captureBatch(recs []Record[T]) {
	c := &g.cap
	if c.err != nil || len(recs) == 0 {
		return
	}
	if g.codec == nil {
		g.codec = state.DefaultCodec[T]()
	}
	defer func() {
		if r := recover(); r != nil {
			err, ok := r.(error)
			if !ok {
				err = fmt.Errorf("%v", r)
			}
			c.err = fmt.Errorf("encode an in-flight %T record: %w", *new(T), err)
		}
	}()
	hash := g.link.spec.part == Hash
	for i := range recs {
		if hash {
			c.data = binary.AppendUvarint(c.data, g.link.spec.keyHash(recs[i].Value)%g.link.maxPar)
		}
		c.data = binary.AppendVarint(c.data, recs[i].Time)
		c.data = g.codec.Append(c.data, recs[i].Value)
	}
	c.records += int64(len(recs))
}

// takeCapture returns what was captured since the last reset and resets.
func (g *gate[T]) takeCapture() (inflightSection, error) {
	c := g.cap
	g.cap = gateCapture{}
	s := inflightSection{meta: inflightMeta{
		From: g.edge.From.Ops[g.edge.FromOp].UID, Port: g.edge.Port, Input: g.input,
		Part: g.link.spec.part, Type: typeHandle[T]{}.TypeName(), Records: c.records,
	}, data: c.data}
	return s, c.err
}

func (g *gate[T]) resetCapture() { g.cap = gateCapture{} }

// replay processes restored in-flight records of this gate's edge, in
// order, before the task reads any new input.
func (g *gate[T]) replay(parts []inflightPart, load func(inflightPart) (rawSection, error)) (int64, error) {
	if g.codec == nil {
		g.codec = state.DefaultCodec[T]()
	}
	var n int64
	for _, p := range parts {
		raw, err := load(p)
		if err != nil {
			return n, err
		}
		err = decodeInflight(g.codec, raw, p.part == Hash, p.filter, p.kgs, func(r Record[T]) error {
			if err := g.target.ProcessRecord(r); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("replay in-flight records of %s section %d: %w", p.file, p.section, err)
		}
	}
	return n, nil
}

// checkInflight refuses an edge type whose records would not survive the
// default codec: see checkInflightType.
func (l *netLink[T]) checkInflight() error {
	return checkInflightType(reflect.TypeFor[T](), map[reflect.Type]bool{})
}

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkInflightType reports why values of t would not round-trip through
// state.DefaultCodec, whose fallback for composite types is JSON: only
// exported struct fields survive, interfaces come back as maps, channels
// and functions do not encode. Types that marshal themselves (json or
// text) are trusted.
func checkInflightType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if (t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler)) && reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		(t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)) && reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return nil
	case reflect.Pointer, reflect.Slice, reflect.Array:
		if err := checkInflightType(t.Elem(), seen); err != nil {
			return fmt.Errorf("%v: %w", t, err)
		}
		return nil
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !t.Key().Implements(textMarshaler) || !reflect.PointerTo(t.Key()).Implements(textUnmarshaler) {
				return fmt.Errorf("%v: map key type %v does not encode as JSON", t, t.Key())
			}
		}
		if err := checkInflightType(t.Elem(), seen); err != nil {
			return fmt.Errorf("%v: %w", t, err)
		}
		return nil
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("json"); tag == "-" {
				return fmt.Errorf("%v: field %s is tagged json:\"-\" and would be dropped", t, f.Name)
			}
			if !f.IsExported() {
				if f.Anonymous && f.Type.Kind() == reflect.Struct {
					// JSON promotes the exported fields of an embedded
					// struct of an unexported type (not of a pointer to one).
					if err := checkInflightType(f.Type, seen); err != nil {
						return fmt.Errorf("%v: %w", t, err)
					}
					continue
				}
				return fmt.Errorf("%v: field %s is unexported and would be dropped", t, f.Name)
			}
			if err := checkInflightType(f.Type, seen); err != nil {
				return fmt.Errorf("%v: field %s: %w", t, f.Name, err)
			}
		}
		return nil
	}
	return fmt.Errorf("%v (kind %v) does not round-trip through JSON", t, t.Kind())
}
