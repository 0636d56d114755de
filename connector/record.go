package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DecodeJSONRecord decodes one JSON object into a Record as YAML
// pipelines hold it: numbers become int64 when they are integers that
// fit, float64 otherwise. Anything but exactly one object is an error
// that says what was found.
func DecodeJSONRecord(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a JSON %s, not an object", jsonKind(v))
	}
	return fixNumbers(m).(Record), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

// fixNumbers turns json.Number into int64 (integers that fit) or float64.
func fixNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = fixNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
		return x
	}
	return v
}

// EncodeJSON encodes a record value (a Record, or any of its values) as
// JSON, keys sorted. Floats that JSON cannot hold (NaN, infinities)
// become null.
func EncodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err == nil {
		return b, nil
	}
	var ue *json.UnsupportedValueError
	if errors.As(err, &ue) {
		return json.Marshal(JSONSafe(v))
	}
	return nil, err
}

// JSONSafe returns v with the floats JSON cannot hold (NaN, infinities)
// replaced by null, copying the maps and lists that hold them.
func JSONSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = JSONSafe(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = JSONSafe(e)
		}
		return l
	}
	return v
}
