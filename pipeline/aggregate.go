package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// acc is the accumulator of the aggregates of one key (running
// aggregate) or one window: the key's values and one aggVal per
// aggregate. It is never modified in place once stored in state: add and
// merge return a new one, so a snapshot being written never sees a change.
type acc struct {
	Key  []any
	Vals []aggVal
}

type aggVal struct {
	n     int64   // values seen (count, avg)
	isum  int64   // sum while every value was an integer
	fsum  float64 // sum once a float was seen (or an int overflowed)
	float bool
	v     any // min, max, first, last
	set   bool
}

// add returns acc with the record k added.
func (a acc) add(aggs []aggSpec, k keyed) acc {
	out := acc{Key: a.Key, Vals: make([]aggVal, len(aggs))}
	if out.Key == nil {
		out.Key = k.vals
	}
	copy(out.Vals, a.Vals)
	for i, ag := range aggs {
		var arg any
		if i < len(k.args) {
			arg = k.args[i]
		}
		out.Vals[i] = out.Vals[i].add(ag.fn, arg)
	}
	return out
}

func (v aggVal) add(fn string, x any) aggVal {
	switch fn {
	case "count":
		v.n++
	case "sum", "avg":
		v.n++
		v = v.plus(x)
	case "min":
		if !v.set || compareValues(x, v.v) < 0 {
			v.v, v.set = x, true
		}
	case "max":
		if !v.set || compareValues(x, v.v) > 0 {
			v.v, v.set = x, true
		}
	case "first":
		if !v.set {
			v.v, v.set = x, true
		}
	case "last":
		v.v, v.set = x, true
	}
	return v
}

// plus adds the number x to the sum, switching to floats on a float or an
// integer overflow.
func (v aggVal) plus(x any) aggVal {
	switch n := x.(type) {
	case int64:
		if !v.float {
			s, overflow := addInt64(v.isum, n)
			if !overflow {
				v.isum = s
				return v
			}
			v.float, v.fsum = true, float64(v.isum)
		}
		v.fsum += float64(n)
	case uint64:
		if !v.float && n <= math.MaxInt64 {
			return v.plus(int64(n))
		}
		if !v.float {
			v.float, v.fsum = true, float64(v.isum)
		}
		v.fsum += float64(n)
	case float64:
		if !v.float {
			v.float, v.fsum = true, float64(v.isum)
		}
		v.fsum += n
	}
	return v
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// merge combines the accumulators of two windows, a's being the earlier.
func mergeAcc(aggs []aggSpec, a, b acc) acc {
	out := acc{Key: a.Key, Vals: make([]aggVal, len(aggs))}
	if out.Key == nil {
		out.Key = b.Key
	}
	for i, ag := range aggs {
		var x, y aggVal
		if i < len(a.Vals) {
			x = a.Vals[i]
		}
		if i < len(b.Vals) {
			y = b.Vals[i]
		}
		out.Vals[i] = mergeVal(ag.fn, x, y)
	}
	return out
}

func mergeVal(fn string, x, y aggVal) aggVal {
	switch fn {
	case "count":
		x.n += y.n
	case "sum", "avg":
		x.n += y.n
		if y.float {
			if !x.float {
				x.float, x.fsum = true, float64(x.isum)
			}
			x.fsum += y.fsum
		} else {
			x = x.plus(y.isum)
		}
	case "min", "max", "last":
		if !y.set {
			return x
		}
		if !x.set || fn == "last" ||
			(fn == "min" && compareValues(y.v, x.v) < 0) || (fn == "max" && compareValues(y.v, x.v) > 0) {
			x.v, x.set = y.v, true
		}
	case "first":
		if !x.set {
			return y
		}
	}
	return x
}

// result is the value of an aggregate.
func (v aggVal) result(fn string) any {
	switch fn {
	case "count":
		return v.n
	case "sum":
		if v.float {
			return v.fsum
		}
		return v.isum
	case "avg":
		if v.n == 0 {
			return nil
		}
		if v.float {
			return v.fsum / float64(v.n)
		}
		return float64(v.isum) / float64(v.n)
	}
	if !v.set {
		return nil
	}
	return v.v
}

// compareValues orders JSON-like values: null < bools < numbers < strings
// < anything else (by its JSON text); numbers by value across int and
// float.
func compareValues(a, b any) int {
	ca, cb := class(a), class(b)
	if ca != cb {
		return ca - cb
	}
	switch ca {
	case 0:
		return 0
	case 1:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case 2:
		return compareNumbers(a, b)
	case 3:
		return strings.Compare(a.(string), b.(string))
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return strings.Compare(string(x), string(y))
}

func class(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, uint64, float64:
		return 2
	case string:
		return 3
	}
	return 4
}

func compareNumbers(a, b any) int {
	if x, ok := a.(int64); ok {
		if y, ok := b.(int64); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	x, y := toFloat(a), toFloat(b)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	}
	// NaN sorts first.
	switch {
	case math.IsNaN(x) && math.IsNaN(y):
		return 0
	case math.IsNaN(x):
		return -1
	}
	return 1
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

// accJSON is the state encoding of acc (through state.JSONCodec): every
// value is tagged with its type, so an int stays an int across a restore.
type accJSON struct {
	K []any     `json:"k"`
	A []aggJSON `json:"a"`
}

type aggJSON struct {
	N int64  `json:"n,omitempty"`
	I int64  `json:"i,omitempty"`
	F string `json:"f,omitempty"` // float sum, strconv 'g' (so NaN and Inf survive)
	V any    `json:"v,omitempty"` // tagged
}

// MarshalJSON encodes the accumulator for state.
func (a acc) MarshalJSON() ([]byte, error) {
	j := accJSON{K: make([]any, len(a.Key)), A: make([]aggJSON, len(a.Vals))}
	for i, k := range a.Key {
		j.K[i] = tag(k)
	}
	for i, v := range a.Vals {
		x := aggJSON{N: v.n, I: v.isum}
		if v.float {
			x.F = strconv.FormatFloat(v.fsum, 'g', -1, 64)
		}
		if v.set {
			x.V = tag(v.v)
		}
		j.A[i] = x
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the accumulator from state.
func (a *acc) UnmarshalJSON(b []byte) error {
	var j struct {
		K []json.RawMessage `json:"k"`
		A []struct {
			N int64           `json:"n"`
			I int64           `json:"i"`
			F string          `json:"f"`
			V json.RawMessage `json:"v"`
		} `json:"a"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := acc{Key: make([]any, len(j.K)), Vals: make([]aggVal, len(j.A))}
	for i, k := range j.K {
		v, err := untagRaw(k)
		if err != nil {
			return err
		}
		out.Key[i] = v
	}
	for i, x := range j.A {
		v := aggVal{n: x.N, isum: x.I}
		if x.F != "" {
			f, err := strconv.ParseFloat(x.F, 64)
			if err != nil {
				return fmt.Errorf("aggregate state: bad float %q", x.F)
			}
			v.float, v.fsum = true, f
		}
		if len(x.V) > 0 {
			val, err := untagRaw(x.V)
			if err != nil {
				return err
			}
			v.v, v.set = val, true
		}
		out.Vals[i] = v
	}
	*a = out
	return nil
}

// tag encodes a JSON-like value with its type: ["n"] null, ["b",true],
// ["i","12"], ["u","12"], ["f","1.5"], ["s","x"], ["l",[...]], ["m",{...}].
func tag(v any) any {
	switch x := v.(type) {
	case nil:
		return []any{"n"}
	case bool:
		return []any{"b", x}
	case int64:
		return []any{"i", strconv.FormatInt(x, 10)}
	case int:
		return []any{"i", strconv.Itoa(x)}
	case uint64:
		return []any{"u", strconv.FormatUint(x, 10)}
	case float64:
		return []any{"f", strconv.FormatFloat(x, 'g', -1, 64)}
	case string:
		return []any{"s", x}
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = tag(e)
		}
		return []any{"l", l}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = tag(e)
		}
		return []any{"m", m}
	}
	return []any{"s", fmt.Sprint(v)}
}

var errBadTag = errors.New("aggregate state: bad tagged value")

func untagRaw(raw json.RawMessage) (any, error) {
	var x []json.RawMessage
	if err := json.Unmarshal(raw, &x); err != nil || len(x) == 0 {
		return nil, errBadTag
	}
	var t string
	if err := json.Unmarshal(x[0], &t); err != nil {
		return nil, errBadTag
	}
	if t == "n" {
		return nil, nil
	}
	if len(x) != 2 {
		return nil, errBadTag
	}
	switch t {
	case "b":
		var b bool
		err := json.Unmarshal(x[1], &b)
		return b, wrapTag(err)
	case "i", "u", "f", "s":
		var s string
		if err := json.Unmarshal(x[1], &s); err != nil {
			return nil, errBadTag
		}
		switch t {
		case "i":
			v, err := strconv.ParseInt(s, 10, 64)
			return v, wrapTag(err)
		case "u":
			v, err := strconv.ParseUint(s, 10, 64)
			return v, wrapTag(err)
		case "f":
			v, err := strconv.ParseFloat(s, 64)
			return v, wrapTag(err)
		}
		return s, nil
	case "l":
		var items []json.RawMessage
		if err := json.Unmarshal(x[1], &items); err != nil {
			return nil, errBadTag
		}
		l := make([]any, len(items))
		for i, it := range items {
			v, err := untagRaw(it)
			if err != nil {
				return nil, err
			}
			l[i] = v
		}
		return l, nil
	case "m":
		var items map[string]json.RawMessage
		if err := json.Unmarshal(x[1], &items); err != nil {
			return nil, errBadTag
		}
		m := make(map[string]any, len(items))
		for k, it := range items {
			v, err := untagRaw(it)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	}
	return nil, errBadTag
}

func wrapTag(err error) error {
	if err != nil {
		return errBadTag
	}
	return nil
}

// canonicalKey is the key of a record in keyed state and partitioning: the
// JSON of its key values (a single value alone, several as an array),
// with map keys sorted. Integers and floats of the same value are the
// same key.
func canonicalKey(vals []any) string {
	var b strings.Builder
	if len(vals) == 1 {
		writeCanonical(&b, vals[0])
		return b.String()
	}
	b.WriteByte('[')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCanonical(&b, v)
	}
	b.WriteByte(']')
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			b.WriteString(strconv.FormatInt(int64(x), 10))
			return
		}
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		q, _ := json.Marshal(x)
		b.Write(q)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			q, _ := json.Marshal(k)
			b.Write(q)
			b.WriteByte(':')
			writeCanonical(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", x)
	}
}
