package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/stream"
)

// Unaligned checkpoints store the records in flight on network edges,
// encoded as JSON (state.DefaultCodec). A Record does not survive that
// (its integers would come back as floats, so the runtime refuses a
// map[string]any edge), nor does keyed (unexported fields). Both travel
// with the typed encoding of the aggregate state (tag, untagRaw) instead:
// keyed marshals itself, and a Record edge between operators of different
// parallelism carries wireRecord (see exchange). The job graph is the same
// with aligned and unaligned checkpoints, so a job can switch between them
// and restore the other kind's checkpoints.

// keyedJSON is the encoding of a keyed record in flight.
type keyedJSON struct {
	K string          `json:"k"`
	V json.RawMessage `json:"v"`
	R json.RawMessage `json:"r"`
	A json.RawMessage `json:"a,omitempty"`
}

// MarshalJSON encodes the keyed record for in-flight storage.
func (k keyed) MarshalJSON() ([]byte, error) {
	j := keyedJSON{K: k.key}
	var err error
	if j.V, err = json.Marshal(tag(anyList(k.vals))); err != nil {
		return nil, err
	}
	if j.R, err = json.Marshal(tag(map[string]any(k.rec))); err != nil {
		return nil, err
	}
	if k.args != nil {
		if j.A, err = json.Marshal(tag(k.args)); err != nil {
			return nil, err
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a keyed record stored in flight.
func (k *keyed) UnmarshalJSON(b []byte) error {
	var j keyedJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("in-flight keyed record: %w", err)
	}
	out := keyed{key: j.K}
	vals, err := untagRaw(j.V)
	if err != nil {
		return err
	}
	rec, err := untagRaw(j.R)
	if err != nil {
		return err
	}
	var ok bool
	if out.vals, ok = vals.([]any); !ok {
		return errors.New("in-flight keyed record: key values are not a list")
	}
	if out.rec, ok = rec.(map[string]any); !ok {
		return errors.New("in-flight keyed record: the record is not a mapping")
	}
	if len(j.A) > 0 {
		args, err := untagRaw(j.A)
		if err != nil {
			return err
		}
		if out.args, ok = args.([]any); !ok {
			return errors.New("in-flight keyed record: arguments are not a list")
		}
	}
	*k = out
	return nil
}

// anyList makes a nil list an empty one, so that it encodes as a list.
func anyList(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// wireRecord carries a Record over a network edge when checkpoints are
// unaligned.
type wireRecord struct{ r Record }

// MarshalJSON encodes the record with its values' types.
func (w wireRecord) MarshalJSON() ([]byte, error) { return json.Marshal(tag(map[string]any(w.r))) }

// UnmarshalJSON decodes a record stored in flight.
func (w *wireRecord) UnmarshalJSON(b []byte) error {
	v, err := untagRaw(b)
	if err != nil {
		return err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("in-flight record: not a mapping")
	}
	w.r = m
	return nil
}

// parallelism is the number of subtasks of an operator whose parallelism
// setting is n (0: the job's default).
func (b *builder) parallelism(n int) int {
	if n > 0 {
		return n
	}
	return b.par
}

// exchange returns s, produced by operators of parallelism from, ready to
// be read by an operator of parallelism to (0: the job's default). When
// the two differ, the edge is a network edge, whose records travel as
// wireRecord: converted at both ends, chained with the producer and the
// consumer, so the conversion is a function call.
func (b *builder) exchange(s stream.Stream[Record], from, to int, id string) stream.Stream[Record] {
	if b.parallelism(from) == b.parallelism(to) {
		return s
	}
	w := stream.Map(s, func(r Record) wireRecord { return wireRecord{r: r} }).Name("Record -> wire").UID(id + "-wire-out")
	if from > 0 {
		w = w.Parallelism(from)
	}
	out := stream.Map(w, func(w wireRecord) Record { return w.r }).Name("wire -> Record").UID(id + "-wire-in")
	if to > 0 {
		out = out.Parallelism(to)
	}
	return out
}
