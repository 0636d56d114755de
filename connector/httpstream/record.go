package httpstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connector"
)

// decodeJSONRecord decodes a message of a YAML pipeline's httpstream
// source, a JSON object, into a record: numbers become int64 when they
// are integers that fit, float64 otherwise, as YAML pipelines decode
// JSON records.
func decodeJSONRecord(b []byte) (connector.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value in the message")
	}
	m, ok := v.(map[string]any)
	if !ok {
		kind := "value"
		switch v.(type) {
		case []any:
			kind = "array"
		case string:
			kind = "string"
		case json.Number:
			kind = "number"
		case bool:
			kind = "boolean"
		case nil:
			kind = "null"
		}
		return nil, fmt.Errorf("a JSON %s, not an object", kind)
	}
	return fixNumbers(m).(map[string]any), nil
}

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
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
	}
	return v
}
