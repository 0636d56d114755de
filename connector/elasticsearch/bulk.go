package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// action is one bulk action as it is sent: its action/metadata line and
// document line, each ended by a newline.
type action struct {
	op        Op
	index, id string
	versioned bool
	meta      []byte
	body      []byte // nil for delete
	attempts  int    // failed attempts so far
}

func (a *action) size() int { return len(a.meta) + len(a.body) }

// appendMeta appends the action/metadata line of a.
func appendMeta(b []byte, op Op, index, id string, version *int64, versionType string) []byte {
	b = append(b, `{"`...)
	b = append(b, op...)
	b = append(b, `":{"_index":`...)
	b = appendJSONString(b, index)
	if id != "" {
		b = append(b, `,"_id":`...)
		b = appendJSONString(b, id)
	}
	if version != nil {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, *version, 10)
		b = append(b, `,"version_type":`...)
		b = appendJSONString(b, versionType)
	}
	if op == OpUpdate {
		b = append(b, `,"retry_on_conflict":`...)
		b = strconv.AppendInt(b, DefaultRetryOnConflict, 10)
	}
	return append(b, "}}\n"...)
}

// appendJSONString appends s as a JSON string (strconv.AppendQuote would
// write Go escapes that are not JSON for some characters).
func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}

// itemResult is one item of a bulk response.
type itemResult struct {
	Status int
	Result string
	Type   string // error type; "" without error
	Reason string
	Cause  string // caused_by type: reason
}

// parseBulkResponse parses the body of a bulk response to a request of
// the actions whose operations are ops: one item per action, in request
// order, each under its action's name. Anything else (another count,
// another action, items that are not objects) is an error: the request's
// outcome is then unknown.
func parseBulkResponse(body []byte, ops []Op) ([]itemResult, error) {
	var resp struct {
		Errors *bool                        `json:"errors"`
		Items  []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("bulk response is not JSON: %w", err)
	}
	if resp.Errors == nil || resp.Items == nil {
		return nil, errors.New("bulk response without errors and items")
	}
	if len(resp.Items) != len(ops) {
		return nil, fmt.Errorf("bulk response has %d items for %d actions", len(resp.Items), len(ops))
	}
	out := make([]itemResult, len(ops))
	for i, it := range resp.Items {
		raw, found := it[string(ops[i])]
		if len(it) != 1 || !found {
			return nil, fmt.Errorf("bulk response item %d is not the result of a %s action", i, ops[i])
		}
		var r struct {
			Status int             `json:"status"`
			Result string          `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("bulk response item %d: %w", i, err)
		}
		if r.Status < 100 || r.Status > 599 {
			return nil, fmt.Errorf("bulk response item %d has status %d", i, r.Status)
		}
		res := itemResult{Status: r.Status, Result: r.Result}
		if len(r.Error) > 0 && string(r.Error) != "null" {
			res.Type, res.Reason, res.Cause = errorText(r.Error)
			if res.Type == "" {
				res.Type = "error"
			}
		}
		out[i] = res
	}
	return out, nil
}

// errorText reads an Elasticsearch error object (or, from old versions, a
// string).
func errorText(raw json.RawMessage) (typ, reason, cause string) {
	var e struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return "error", s, ""
		}
		return "error", string(truncate(raw, 300)), ""
	}
	if e.CausedBy != nil && (e.CausedBy.Type != "" || e.CausedBy.Reason != "") {
		cause = e.CausedBy.Type + ": " + e.CausedBy.Reason
	}
	return e.Type, e.Reason, cause
}

// requestError reads the error of a response to a whole request.
func requestError(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		typ, reason, _ := errorText(e.Error)
		return typ + ": " + reason
	}
	return string(truncate(bytes.TrimSpace(body), 300))
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// verdict is what becomes of an action after its item's result.
type verdict uint8

const (
	written verdict = iota
	retry
	refused
)

// judge decides an item's verdict.
func judge(a *action, r itemResult) verdict {
	switch {
	case r.Status == 200 || r.Status == 201:
		return written
	case a.op == OpDelete && r.Status == 404 && (r.Type == "" || r.Type == "index_not_found_exception"):
		// Nothing to delete: a replayed delete, or an index that was
		// never written.
		return written
	case r.Status == 409 && a.versioned:
		// The stored document has this version or a newer one.
		return written
	case r.Status == 409 && a.op == OpCreate && a.id != "":
		// The document exists: an earlier attempt wrote it.
		return written
	case r.Status == 409 && a.op == OpUpdate:
		// Concurrent updates beyond retry_on_conflict.
		return retry
	case r.Status == 429 || r.Status >= 500 || r.Status == 408:
		return retry
	}
	return refused
}
