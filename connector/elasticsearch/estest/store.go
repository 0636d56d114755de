package estest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Doc is a document of the stand-in's store.
type Doc struct {
	Index   string
	ID      string
	Source  json.RawMessage
	Version int64
	SeqNo   int64
}

type index struct {
	name       string
	dataStream bool
	readOnly   bool
	// fields maps dotted field paths to their mapped type: "long",
	// "double", "text", "boolean", "object", "date".
	fields map[string]string
	docs   map[string]*stored
	seq    int64
}

type stored struct {
	source  map[string]any
	version int64
	seqNo   int64
}

// result is the outcome of one action: the item of the response.
type result struct {
	Index   string       `json:"_index"`
	ID      string       `json:"_id,omitempty"`
	Version int64        `json:"_version,omitempty"`
	Result  string       `json:"result,omitempty"`
	Shards  *shards      `json:"_shards,omitempty"`
	SeqNo   *int64       `json:"_seq_no,omitempty"`
	Term    *int64       `json:"_primary_term,omitempty"`
	Status  int          `json:"status"`
	Error   *errorDetail `json:"error,omitempty"`
}

type shards struct {
	Total      int `json:"total"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
}

type errorDetail struct {
	Type      string       `json:"type"`
	Reason    string       `json:"reason"`
	Index     string       `json:"index,omitempty"`
	Shard     string       `json:"shard,omitempty"`
	IndexUUID string       `json:"index_uuid,omitempty"`
	CausedBy  *errorDetail `json:"caused_by,omitempty"`
}

func failed(a *Action, status int, typ, reason string) result {
	return result{Index: a.Index, ID: a.ID, Status: status,
		Error: &errorDetail{Type: typ, Reason: reason, Index: a.Index, Shard: "0", IndexUUID: "stand-in"}}
}

func ok(ix *index, id string, d *stored, res string, status int) result {
	seq, term := d.seqNo, int64(1)
	return result{Index: ix.name, ID: id, Version: d.version, Result: res, Status: status,
		Shards: &shards{Total: 2, Successful: 1}, SeqNo: &seq, Term: &term}
}

// validIndexName reports why Elasticsearch refuses name as an index name.
func validIndexName(name string) string {
	switch {
	case name == "" || name == "." || name == "..":
		return "must not be empty, '.' or '..'"
	case strings.ToLower(name) != name:
		return "must be lowercase"
	case strings.ContainsAny(name[:1], "_-+"):
		return "must not start with '_', '-', or '+'"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return `must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?, #, :]`
	case len(name) > 255:
		return "index name is too long"
	}
	return ""
}

func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeDoc decodes a document source with numbers kept exact.
func decodeDoc(src []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("the document is not a JSON object")
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the document")
	}
	return m, nil
}

// mapping checks doc against the index's mapping and returns the fields
// it would add to it (dynamic mapping), or why the document is refused.
func (ix *index) mapping(doc map[string]any) (map[string]string, string) {
	added := map[string]string{}
	var walk func(prefix string, m map[string]any) string
	walk = func(prefix string, m map[string]any) string {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			path := prefix + k
			if msg := ix.field(path, m[k], added, walk); msg != "" {
				return msg
			}
		}
		return ""
	}
	if msg := walk("", doc); msg != "" {
		return nil, msg
	}
	return added, ""
}

func (ix *index) field(path string, v any, added map[string]string, walk func(string, map[string]any) string) string {
	if arr, isArr := v.([]any); isArr {
		for _, e := range arr {
			if msg := ix.field(path, e, added, walk); msg != "" {
				return msg
			}
		}
		return ""
	}
	if v == nil {
		return ""
	}
	have, known := ix.fields[path]
	if !known {
		have, known = added[path]
	}
	kind := kindOf(v)
	if !known {
		added[path] = kind
		if m, isObj := v.(map[string]any); isObj {
			return walk(path+".", m)
		}
		return ""
	}
	preview := func() string {
		b, _ := json.Marshal(v)
		return abbrev(b)
	}
	switch have {
	case "object":
		m, isObj := v.(map[string]any)
		if !isObj {
			return fmt.Sprintf("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", path, path)
		}
		return walk(path+".", m)
	case "long", "double":
		switch x := v.(type) {
		case json.Number:
			return ""
		case string:
			if _, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return ""
			}
		}
		return fmt.Sprintf("failed to parse field [%s] of type [%s]. Preview of field's value: '%s'", path, have, preview())
	case "boolean":
		if b, isStr := v.(string); (isStr && (b == "true" || b == "false" || b == "")) || kind == "boolean" {
			return ""
		}
		return fmt.Sprintf("failed to parse field [%s] of type [boolean]. Preview of field's value: '%s'", path, preview())
	case "date":
		switch x := v.(type) {
		case json.Number:
			return ""
		case string:
			if looksLikeDate(x) {
				return ""
			}
		}
		return fmt.Sprintf("failed to parse field [%s] of type [date]. Preview of field's value: '%s'", path, preview())
	default: // text, keyword
		if kind == "object" {
			return fmt.Sprintf("failed to parse field [%s] of type [%s]: tried to parse an object as a concrete value", path, have)
		}
		return ""
	}
}

func kindOf(v any) string {
	switch x := v.(type) {
	case bool:
		return "boolean"
	case json.Number:
		if _, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return "long"
		}
		return "double"
	case map[string]any:
		return "object"
	case string:
		if looksLikeDate(x) {
			return "date"
		}
	}
	return "text"
}

// looksLikeDate is the stand-in's date detection: yyyy-MM-dd, optionally
// followed by a time.
func looksLikeDate(s string) bool {
	if len(s) < 10 {
		return false
	}
	for i, c := range s[:10] {
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) == 10 || s[10] == 'T' || s[10] == ' '
}

// merge merges patch into doc as a partial update does (objects merged
// recursively, everything else replaced) and reports whether doc changed.
func merge(doc, patch map[string]any) bool {
	changed := false
	for k, v := range patch {
		if pm, isObj := v.(map[string]any); isObj {
			if dm, both := doc[k].(map[string]any); both {
				if merge(dm, pm) {
					changed = true
				}
				continue
			}
		}
		if !reflect.DeepEqual(doc[k], v) {
			doc[k] = v
			changed = true
		}
	}
	return changed
}
