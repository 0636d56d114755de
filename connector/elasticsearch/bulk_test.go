package elasticsearch

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseBulkResponse(t *testing.T) {
	ops := []Op{OpIndex, OpDelete}
	cases := []struct {
		name, body string
		want       string // items as status/type, or the error
	}{
		{"ok", `{"took":1,"errors":true,"items":[{"index":{"status":201,"result":"created"}},{"delete":{"status":404,"result":"not_found"}}]}`, "[{201 created   } {404 not_found   }]"},
		{"errors", `{"errors":true,"items":[{"index":{"status":400,"error":{"type":"document_parsing_exception","reason":"r","caused_by":{"type":"c","reason":"cr"}}}},{"delete":{"status":429,"error":"old style"}}]}`,
			"[{400  document_parsing_exception r c: cr} {429  error old style }]"},
		{"too few", `{"errors":false,"items":[{"index":{"status":201}}]}`, "1 items for 2 actions"},
		{"too many", `{"errors":false,"items":[{"index":{"status":201}},{"delete":{"status":200}},{"index":{"status":201}}]}`, "3 items for 2 actions"},
		{"other action", `{"errors":false,"items":[{"create":{"status":201}},{"delete":{"status":200}}]}`, "not the result of a index action"},
		{"two keys", `{"errors":false,"items":[{"index":{"status":201},"x":{}},{"delete":{"status":200}}]}`, "not the result"},
		{"no status", `{"errors":false,"items":[{"index":{}},{"delete":{"status":200}}]}`, "status 0"},
		{"not json", `<html>`, "not JSON"},
		{"an error document", `{"error":{"type":"x"},"status":500}`, "without errors and items"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, err := parseBulkResponse([]byte(c.body), ops)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = fmt.Sprint(items)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	cases := []struct {
		a    action
		r    itemResult
		want verdict
	}{
		{action{op: OpIndex}, itemResult{Status: 201}, written},
		{action{op: OpIndex}, itemResult{Status: 200}, written},
		{action{op: OpDelete, id: "1"}, itemResult{Status: 404, Result: "not_found"}, written},
		{action{op: OpDelete, id: "1"}, itemResult{Status: 404, Type: "index_not_found_exception"}, written},
		{action{op: OpIndex, id: "1"}, itemResult{Status: 404, Type: "index_not_found_exception"}, refused},
		{action{op: OpIndex, id: "1", versioned: true}, itemResult{Status: 409}, written},
		{action{op: OpIndex, id: "1"}, itemResult{Status: 409}, refused},
		{action{op: OpCreate, id: "1"}, itemResult{Status: 409}, written},
		{action{op: OpCreate}, itemResult{Status: 409}, refused},
		{action{op: OpUpdate, id: "1"}, itemResult{Status: 409}, retry},
		{action{op: OpUpdate, id: "1"}, itemResult{Status: 404, Type: "document_missing_exception"}, refused},
		{action{op: OpIndex}, itemResult{Status: 429}, retry},
		{action{op: OpIndex}, itemResult{Status: 500}, retry},
		{action{op: OpIndex}, itemResult{Status: 503}, retry},
		{action{op: OpIndex}, itemResult{Status: 400}, refused},
		{action{op: OpIndex}, itemResult{Status: 403}, refused},
	}
	for _, c := range cases {
		if got := judge(&c.a, c.r); got != c.want {
			t.Errorf("%+v %+v: %v, want %v", c.a, c.r, got, c.want)
		}
	}
}

// FuzzParseBulkResponse: whatever the server answers, the parser does not
// panic, and what it accepts has one result per action.
func FuzzParseBulkResponse(f *testing.F) {
	f.Add([]byte(`{"took":1,"errors":false,"items":[{"index":{"status":201}},{"update":{"status":200}}]}`), 2)
	f.Add([]byte(`{"errors":true,"items":[{"index":{"status":400,"error":{"type":"t","reason":"r","caused_by":{"type":"c"}}}}]}`), 1)
	f.Add([]byte(`{"errors":true,"items":[{"index":{"status":429,"error":"s"}}]}`), 1)
	f.Add([]byte(`{"errors":false,"items":[]}`), 0)
	f.Add([]byte(`{"items":[{"index":null}],"errors":null}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 64 {
			return
		}
		ops := make([]Op, n)
		for i := range ops {
			ops[i] = []Op{OpIndex, OpUpdate, OpCreate, OpDelete}[i%4]
		}
		items, err := parseBulkResponse(body, ops)
		if err != nil {
			return
		}
		if len(items) != n {
			t.Fatalf("%d items for %d actions", len(items), n)
		}
		for _, it := range items {
			if it.Status < 100 || it.Status > 599 {
				t.Fatalf("status %d accepted", it.Status)
			}
			judge(&action{op: OpIndex}, it)
		}
	})
}
