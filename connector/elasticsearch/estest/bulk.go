package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Action is one action of a _bulk request: its action/metadata line and,
// for index, create and update, the line after it.
type Action struct {
	// Op is "index", "create", "update" or "delete".
	Op string
	// Line is the number (from 1) of the action/metadata line.
	Line int

	Index           string
	ID              string
	Routing         string
	Version         *int64
	VersionType     string // "", "internal", "external", "external_gte"
	IfSeqNo         *int64
	IfPrimaryTerm   *int64
	RetryOnConflict int
	RequireAlias    bool
	Pipeline        string

	// Source is the document line of index and create, the request line
	// of update ({"doc": ..., "doc_as_upsert": ..., "upsert": ...}); nil
	// for delete.
	Source json.RawMessage
}

// ParseError is a _bulk request that Elasticsearch refuses whole (status
// 400), before any action is carried out.
type ParseError struct {
	Type   string // e.g. "illegal_argument_exception"
	Reason string
}

func (e *ParseError) Error() string { return e.Type + ": " + e.Reason }

func parseErr(typ, format string, args ...any) *ParseError {
	return &ParseError{Type: typ, Reason: fmt.Sprintf(format, args...)}
}

// metaKeys are the metadata parameters an action line may carry.
var metaKeys = map[string]bool{
	"_index": true, "_id": true, "routing": true, "version": true, "version_type": true,
	"if_seq_no": true, "if_primary_term": true, "retry_on_conflict": true, "require_alias": true,
	"pipeline": true, "dynamic_templates": true, "_source": true, "require_data_stream": true,
	"list_executed_pipelines": true,
}

// ParseBulk parses the NDJSON body of a _bulk request as Elasticsearch
// does: pairs of an action/metadata line and a document line (delete has
// no document line), every line ended by a newline. defaultIndex is the
// index of the request path (/{index}/_bulk), "" for /_bulk. A request
// Elasticsearch refuses whole gives a *ParseError: an empty body, a
// body not ended by a newline, a line that is not a JSON object, an
// unknown action or metadata parameter, an action without an index, an
// update or delete without an id, a bad version type, or external
// versioning with update or create.
func ParseBulk(body []byte, defaultIndex string) ([]Action, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, parseErr("action_request_validation_exception", "Validation Failed: 1: no requests added;")
	}
	if body[len(body)-1] != '\n' {
		return nil, parseErr("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
	}
	var out []Action
	line := 0
	for len(body) > 0 {
		cur, rest := nextLine(body)
		body = rest
		line++
		if len(bytes.TrimSpace(cur)) == 0 {
			continue // Elasticsearch skips empty lines between actions
		}
		a, err := parseActionLine(cur, line, defaultIndex)
		if err != nil {
			return nil, err
		}
		if a.Op != "delete" {
			if len(body) == 0 {
				return nil, parseErr("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
			}
			src, rest := nextLine(body)
			body = rest
			line++
			src = bytes.TrimSpace(src)
			if !json.Valid(src) || len(src) == 0 || src[0] != '{' {
				if a.Op == "update" {
					return nil, parseErr("x_content_parse_exception", "[%d:1] request body of update on line %d is not a JSON object", line, line)
				}
				// Elasticsearch finds a bad document only when it indexes
				// it: the item fails, not the request.
			}
			a.Source = json.RawMessage(append([]byte(nil), src...))
			if a.Op == "update" {
				if err := checkUpdateBody(a.Source, line); err != nil {
					return nil, err
				}
			}
		}
		if err := validate(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, parseErr("action_request_validation_exception", "Validation Failed: 1: no requests added;")
	}
	return out, nil
}

// nextLine splits b at its first newline.
func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func parseActionLine(b []byte, line int, defaultIndex string) (Action, error) {
	a := Action{Line: line}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(b, &outer); err != nil || outer == nil {
		return a, parseErr("illegal_argument_exception", "Malformed action/metadata line [%d], expected START_OBJECT", line)
	}
	if len(outer) != 1 {
		return a, parseErr("illegal_argument_exception", "Malformed action/metadata line [%d], expected a single action, found %d fields", line, len(outer))
	}
	var raw json.RawMessage
	for k, v := range outer {
		a.Op, raw = k, v
	}
	switch a.Op {
	case "index", "create", "update", "delete":
	default:
		return a, parseErr("illegal_argument_exception", "Malformed action/metadata line [%d], expected field [create], [delete], [index] or [update] but found [%s]", line, a.Op)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(raw, &meta); err != nil || meta == nil {
		return a, parseErr("illegal_argument_exception", "Malformed action/metadata line [%d], expected START_OBJECT after [%s]", line, a.Op)
	}
	a.Index = defaultIndex
	for k, v := range meta {
		if !metaKeys[k] {
			return a, parseErr("illegal_argument_exception", "Action/metadata line [%d] contains an unknown parameter [%s]", line, k)
		}
		var err error
		switch k {
		case "_index":
			err = str(v, &a.Index)
		case "_id":
			err = str(v, &a.ID)
		case "routing":
			err = str(v, &a.Routing)
		case "version_type":
			err = str(v, &a.VersionType)
		case "pipeline":
			err = str(v, &a.Pipeline)
		case "version":
			a.Version, err = integer(v)
		case "if_seq_no":
			a.IfSeqNo, err = integer(v)
		case "if_primary_term":
			a.IfPrimaryTerm, err = integer(v)
		case "retry_on_conflict":
			var n *int64
			if n, err = integer(v); n != nil {
				a.RetryOnConflict = int(*n)
			}
		case "require_alias":
			if err = json.Unmarshal(v, &a.RequireAlias); err != nil {
				var s string
				if json.Unmarshal(v, &s) == nil && (s == "true" || s == "false") {
					a.RequireAlias, err = s == "true", nil
				}
			}
		}
		if err != nil {
			return a, parseErr("illegal_argument_exception", "Malformed action/metadata line [%d], parameter [%s]: %v", line, k, err)
		}
	}
	return a, nil
}

// str decodes a string parameter; numbers are taken as their text, as
// Elasticsearch does for _id and routing.
func str(v json.RawMessage, into *string) error {
	if err := json.Unmarshal(v, into); err == nil {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		*into = n.String()
		return nil
	}
	return fmt.Errorf("expected a string, found %s", abbrev(v))
}

func integer(v json.RawMessage) (*int64, error) {
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, fmt.Errorf("expected a number, found %s", abbrev(v))
		}
		n = json.Number(s)
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("expected a whole number, found %s", abbrev(v))
	}
	return &i, nil
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// updateKeys are the fields of an update request line.
var updateKeys = map[string]bool{"doc": true, "doc_as_upsert": true, "upsert": true, "detect_noop": true,
	"script": true, "scripted_upsert": true, "_source": true}

func checkUpdateBody(src json.RawMessage, line int) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(src, &m); err != nil || m == nil {
		return parseErr("x_content_parse_exception", "[%d:1] request body of update is not a JSON object", line)
	}
	for k := range m {
		if !updateKeys[k] {
			return parseErr("x_content_parse_exception", "[%d:2] [UpdateRequest] unknown field [%s]", line, k)
		}
	}
	if _, ok := m["script"]; ok {
		return parseErr("illegal_argument_exception", "line %d: scripts are not supported by this stand-in", line)
	}
	if _, ok := m["doc"]; !ok {
		return parseErr("action_request_validation_exception", "Validation Failed: 1: script or doc is missing;")
	}
	return nil
}

// validate applies the checks Elasticsearch makes before executing any
// action of the request.
func validate(a *Action) error {
	if a.Index == "" {
		return parseErr("action_request_validation_exception", "Validation Failed: 1: index is missing;")
	}
	if (a.Op == "update" || a.Op == "delete") && a.ID == "" {
		return parseErr("action_request_validation_exception", "Validation Failed: 1: id is missing;")
	}
	switch a.VersionType {
	case "", "internal":
		if a.Version != nil {
			return parseErr("action_request_validation_exception",
				"Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead;")
		}
	case "external", "external_gte":
		switch {
		case a.Op == "update":
			return parseErr("action_request_validation_exception", "Validation Failed: 1: only internal versioning is supported for update requests;")
		case a.Op == "create":
			return parseErr("action_request_validation_exception", "Validation Failed: 1: create operations only support internal versioning. use index instead;")
		case a.Version == nil || *a.Version < 0:
			return parseErr("action_request_validation_exception", "Validation Failed: 1: illegal version value [%d] for version type [%s];", ptrVal(a.Version, -1), a.VersionType)
		case a.ID == "":
			return parseErr("action_request_validation_exception", "Validation Failed: 1: an id must be provided if version type or value are set;")
		}
	default:
		return parseErr("illegal_argument_exception", "No version type match [%s]", a.VersionType)
	}
	if (a.IfSeqNo == nil) != (a.IfPrimaryTerm == nil) {
		return parseErr("action_request_validation_exception", "Validation Failed: 1: if_seq_no and if_primary_term must be given together;")
	}
	return nil
}

func ptrVal(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}
