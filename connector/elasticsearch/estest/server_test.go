package estest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// client returns a client of s that trusts its certificate.
func client(t *testing.T, s *Server, cfg elasticsearch.Config) *elasticsearch.Client {
	t.Helper()
	cfg.CACert = s.CACertPEM()
	return untrusting(t, s, cfg)
}

func untrusting(t *testing.T, s *Server, cfg elasticsearch.Config) *elasticsearch.Client {
	t.Helper()
	cfg.Addresses = []string{s.URL}
	cl, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestBulkIndexer drives the stand-in with the official client's
// BulkIndexer: index, create, update and delete actions, per-item results
// by callback, a mapping conflict, injected 429s and a version conflict.
func TestBulkIndexer(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.CreateIndex("items", map[string]string{"n": "long"})
	cl := client(t, s, elasticsearch.Config{})
	var mu sync.Mutex
	ok, failed := map[string]int{}, map[string]string{}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: cl, Index: "items", NumWorkers: 1, FlushBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	add := func(action, id, body string) {
		item := esutil.BulkIndexerItem{Action: action, DocumentID: id,
			OnSuccess: func(_ context.Context, it esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem) {
				mu.Lock()
				ok[r.Result]++
				mu.Unlock()
			},
			OnFailure: func(_ context.Context, it esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem, err error) {
				mu.Lock()
				failed[it.Action+"/"+it.DocumentID] = fmt.Sprintf("%d %s %v", r.Status, r.Error.Type, err)
				mu.Unlock()
			}}
		if body != "" {
			item.Body = strings.NewReader(body)
		}
		if err := bi.Add(context.Background(), item); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for i := range 100 {
		add("index", fmt.Sprint(i), fmt.Sprintf(`{"n":%d,"tag":"t%d"}`, i, i%3))
	}
	if err := bi.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	add("create", "0", `{"n":0}`)                // exists: 409
	add("create", "new", `{"n":1000}`)           // 201
	add("update", "1", `{"doc":{"extra":true}}`) // merged
	add("update", "missing", `{"doc":{"n":1}}`)  // 404 document_missing_exception
	add("delete", "2", "")                       // deleted
	add("delete", "2", "")                       // 404 not_found
	add("index", "bad", `{"n":"not a number"}`)  // mapping conflict
	if err := bi.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.FailItems(3, 429)
	for i := 200; i < 205; i++ {
		add("index", fmt.Sprint(i), `{"n":1}`)
	}
	if err := bi.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ok["created"] != 103 || ok["updated"] != 1 || ok["deleted"] != 1 {
		t.Errorf("successes %v", ok)
	}
	want := map[string]string{
		"create/0":       "409 version_conflict_engine_exception <nil>",
		"update/missing": "404 document_missing_exception <nil>",
		"delete/2":       "404  <nil>",
		"index/bad":      "400 document_parsing_exception <nil>",
		"index/200":      "429 es_rejected_execution_exception <nil>",
		"index/201":      "429 es_rejected_execution_exception <nil>",
		"index/202":      "429 es_rejected_execution_exception <nil>",
	}
	if fmt.Sprint(failed) != fmt.Sprint(want) {
		t.Errorf("failures\n%v\nwant\n%v", failed, want)
	}
	if d, _ := s.Get("items", "1"); !strings.Contains(string(d.Source), `"extra":true`) || d.Version != 2 {
		t.Errorf("updated document %s version %d", d.Source, d.Version)
	}
	if s.Count("items") != 100-1+1+2 {
		t.Errorf("%d documents", s.Count("items"))
	}
}

// TestClientInfoAndProductCheck: GET / through the client, and the
// client's refusal of a server without X-Elastic-Product.
func TestClientInfoAndProductCheck(t *testing.T) {
	for _, v := range []string{"8.19.0", "9.1.0"} {
		s := NewServer(Version(v))
		res, err := client(t, s, elasticsearch.Config{}).Info()
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Version struct{ Number string } `json:"version"`
		}
		_ = json.NewDecoder(res.Body).Decode(&info)
		res.Body.Close()
		if info.Version.Number != v {
			t.Errorf("version %q, want %q", info.Version.Number, v)
		}
		s.Close()
	}
	s := NewServer(Product(""))
	defer s.Close()
	_, err := client(t, s, elasticsearch.Config{}).Info()
	if err == nil || !strings.Contains(err.Error(), "not Elasticsearch") {
		t.Errorf("got %v, want the client's product check to fail", err)
	}
}

func TestAuthAndTLS(t *testing.T) {
	cases := []struct {
		name    string
		opts    []Option
		good    elasticsearch.Config
		bad     elasticsearch.Config
		badCode int
	}{
		{"basic", []Option{BasicAuth("elastic", "pw")}, elasticsearch.Config{Username: "elastic", Password: "pw"}, elasticsearch.Config{Username: "elastic", Password: "no"}, 401},
		{"api key", []Option{APIKey("k")}, elasticsearch.Config{APIKey: "k"}, elasticsearch.Config{}, 401},
		{"bearer", []Option{Bearer("tok")}, elasticsearch.Config{ServiceToken: "tok"}, elasticsearch.Config{ServiceToken: "other"}, 401},
		{"tls", []Option{TLS()}, elasticsearch.Config{}, elasticsearch.Config{}, 0},
		{"forbidden", []Option{BasicAuth("u", "p"), Forbidden()}, elasticsearch.Config{}, elasticsearch.Config{Username: "u", Password: "p"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewServer(c.opts...)
			defer s.Close()
			body := strings.NewReader("{\"index\":{\"_index\":\"a\"}}\n{\"x\":1}\n")
			if c.badCode != 403 {
				res, err := client(t, s, c.good).Bulk(body)
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("good credentials: %v %v", res, err)
				}
				res.Body.Close()
			}
			body.Seek(0, io.SeekStart)
			if c.badCode == 0 {
				if _, err := untrusting(t, s, c.bad).Bulk(body); err == nil {
					t.Fatal("an untrusted certificate was accepted")
				}
				return
			}
			res, err := client(t, s, c.bad).Bulk(body)
			if c.badCode == 0 {
				if err == nil {
					t.Fatal("an untrusted certificate was accepted")
				}
				return
			}
			if err != nil || res.StatusCode != c.badCode {
				t.Fatalf("bad credentials: %v %v, want %d", res, err, c.badCode)
			}
			res.Body.Close()
		})
	}
}

func TestParseBulk(t *testing.T) {
	cases := []struct {
		name, body, def string
		want            string // actions as op:index/id, or the error's reason part
	}{
		{"all actions", "{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"x\":1}\n{\"create\":{\"_index\":\"a\"}}\n{}\n" +
			"{\"update\":{\"_index\":\"a\",\"_id\":1}}\n{\"doc\":{}}\n{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n", "", "index:a/1 create:a/ update:a/1 delete:a/1"},
		{"default index", "{\"index\":{}}\n{}\n", "d", "index:d/"},
		{"blank lines", "\n{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n\n", "", "delete:a/1"},
		{"no newline at end", "{\"index\":{\"_index\":\"a\"}}\n{}", "", "terminated by a newline"},
		{"missing source", "{\"index\":{\"_index\":\"a\"}}\n", "", "terminated by a newline"},
		{"empty", "", "", "no requests added"},
		{"not json", "nope\n", "", "Malformed action/metadata line [1]"},
		{"two actions", "{\"index\":{},\"delete\":{}}\n", "", "expected a single action"},
		{"unknown action", "{\"upsert\":{}}\n", "", "found [upsert]"},
		{"unknown parameter", "{\"index\":{\"_index\":\"a\",\"_type\":\"t\"}}\n{}\n", "", "unknown parameter [_type]"},
		{"no index", "{\"index\":{}}\n{}\n", "", "index is missing"},
		{"update without id", "{\"update\":{\"_index\":\"a\"}}\n{\"doc\":{}}\n", "", "id is missing"},
		{"update body", "{\"update\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"oops\":{}}\n", "", "unknown field [oops]"},
		{"internal version", "{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":3}}\n{}\n", "", "internal versioning"},
		{"external on create", "{\"create\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":3,\"version_type\":\"external\"}}\n{}\n", "", "only support internal"},
		{"bad version type", "{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":3,\"version_type\":\"force\"}}\n{}\n", "", "No version type match"},
		{"bad version", "{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":\"x\",\"version_type\":\"external\"}}\n{}\n", "", "parameter [version]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acts, err := ParseBulk([]byte(c.body), c.def)
			var got string
			if err != nil {
				got = err.Error()
			} else {
				var parts []string
				for _, a := range acts {
					parts = append(parts, a.Op+":"+a.Index+"/"+a.ID)
				}
				got = strings.Join(parts, " ")
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestItemsInRequestOrder: a response lists the items in the order of the
// actions, whatever their outcome.
func TestItemsInRequestOrder(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.CreateIndex("o", map[string]string{"n": "long", "obj": "object"})
	var body bytes.Buffer
	var want []string
	s.SetItemFault(func(a Action) int {
		if a.ID == "f" {
			return 503
		}
		return 0
	})
	for i := range 30 {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&body, "{\"index\":{\"_index\":\"o\",\"_id\":\"%d\"}}\n{\"n\":%d}\n", i, i)
			want = append(want, "index 201")
		case 1:
			fmt.Fprintf(&body, "{\"index\":{\"_index\":\"o\",\"_id\":\"%d\"}}\n{\"n\":\"x%d\"}\n", i, i)
			want = append(want, "index 400")
		case 2:
			fmt.Fprintf(&body, "{\"delete\":{\"_index\":\"o\",\"_id\":\"none%d\"}}\n", i)
			want = append(want, "delete 404")
		case 3:
			body.WriteString("{\"index\":{\"_index\":\"o\",\"_id\":\"f\"}}\n{}\n")
			want = append(want, "index 503")
		case 4:
			fmt.Fprintf(&body, "{\"index\":{\"_index\":\"o\",\"_id\":\"%d\"}}\n{\"obj\":5}\n", i)
			want = append(want, "index 400")
		}
	}
	res, err := http.Post(s.URL+"/_bulk", "application/x-ndjson", &body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Error("no product header")
	}
	var resp struct {
		Errors bool
		Items  []map[string]struct{ Status int }
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range resp.Items {
		for op, r := range it {
			got = append(got, fmt.Sprintf("%s %d", op, r.Status))
		}
	}
	if !resp.Errors || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("errors %v items\n%v\nwant\n%v", resp.Errors, got, want)
	}
}

func TestVersionsAndDataStreams(t *testing.T) {
	s := New()
	s.CreateDataStream("ds")
	run := func(body string) []int {
		acts, err := ParseBulk([]byte(body), "")
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for i := range acts {
			s.mu.Lock()
			out = append(out, s.apply(&acts[i]).Status)
			s.mu.Unlock()
		}
		return out
	}
	ext := func(v int, typ string) string {
		return fmt.Sprintf("{\"index\":{\"_index\":\"v\",\"_id\":\"1\",\"version\":%d,\"version_type\":\"%s\"}}\n{\"v\":%d}\n", v, typ, v)
	}
	got := run(ext(5, "external") + ext(5, "external") + ext(4, "external") + ext(5, "external_gte") + ext(6, "external"))
	if fmt.Sprint(got) != "[201 409 409 200 200]" {
		t.Errorf("external versions: %v", got)
	}
	got = run("{\"create\":{\"_index\":\"ds\"}}\n{\"@timestamp\":\"2024-01-01T00:00:00Z\"}\n" +
		"{\"create\":{\"_index\":\"ds\"}}\n{\"m\":1}\n" + "{\"index\":{\"_index\":\"ds\"}}\n{\"@timestamp\":\"2024-01-01\"}\n")
	if fmt.Sprint(got) != "[201 400 400]" {
		t.Errorf("data stream: %v", got)
	}
}

func TestStatsAndDelay(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetDelay(50 * time.Millisecond)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(s.URL+"/_bulk", "application/json", strings.NewReader("{\"index\":{\"_index\":\"a\"}}\n{}\n"))
			if err == nil {
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Requests != 3 || st.MaxInflightRequests < 2 || st.MaxInflightBytes < 2*int64(st.MaxBodyBytes) {
		t.Errorf("stats %+v", st)
	}
}

// FuzzParseBulk: the parser never panics, a parsed request has actions
// that carry an index and, for update and delete, an id, and a refused
// one says why.
func FuzzParseBulk(f *testing.F) {
	f.Add([]byte("{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"x\":1}\n"), "")
	f.Add([]byte("{\"delete\":{\"_id\":\"1\"}}\n"), "d")
	f.Add([]byte("{\"update\":{\"_index\":\"a\",\"_id\":1,\"retry_on_conflict\":3}}\n{\"doc\":{\"a\":1},\"doc_as_upsert\":true}\n"), "")
	f.Add([]byte("{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":\"7\",\"version_type\":\"external_gte\",\"if_seq_no\":1,\"if_primary_term\":1}}\n{}\n"), "")
	f.Add([]byte("\n\n{\"create\":{}}\n{\"@timestamp\":1}\n"), "x")
	f.Add([]byte("{\"index\":{}}\n{"), "")
	f.Fuzz(func(t *testing.T, body []byte, def string) {
		acts, err := ParseBulk(body, def)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Type == "" || pe.Reason == "" {
				t.Fatalf("error %v is not a ParseError with type and reason", err)
			}
			return
		}
		if len(acts) == 0 {
			t.Fatal("no actions and no error")
		}
		for _, a := range acts {
			if a.Index == "" || ((a.Op == "update" || a.Op == "delete") && a.ID == "") || (a.Op == "delete") != (a.Source == nil) {
				t.Fatalf("action %+v", a)
			}
		}
		// What the server makes of it does not panic either.
		s := New()
		for i := range acts {
			s.apply(&acts[i])
		}
	})
}

// TestDocumentEndpoints: PUT and HEAD of an index, GET of a document and
// of the count, over HTTP with the official client.
func TestDocumentEndpoints(t *testing.T) {
	s := NewServer(NoAutoCreate())
	defer s.Close()
	cl := client(t, s, elasticsearch.Config{})
	status := func(res interface{ String() string }, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return strings.SplitN(res.String(), " ", 2)[0]
	}
	if got := status(cl.Indices.Exists([]string{"idx"})); got != "[404" {
		t.Errorf("HEAD of a missing index: %s", got)
	}
	if got := status(cl.Indices.Create("idx")); got != "[200" {
		t.Errorf("PUT: %s", got)
	}
	if got := status(cl.Indices.Exists([]string{"idx"})); got != "[200" {
		t.Errorf("HEAD: %s", got)
	}
	res, err := cl.Bulk(strings.NewReader("{\"index\":{\"_index\":\"idx\",\"_id\":\"a\"}}\n{\"x\":1}\n{\"index\":{\"_index\":\"other\",\"_id\":\"a\"}}\n{\"x\":1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "index_not_found_exception") {
		t.Errorf("a write to a missing index without auto-creation: %s", b)
	}
	res, err = cl.Get("idx", "a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `"_source":{"x":1}`) || !strings.Contains(string(b), `"found":true`) {
		t.Errorf("GET: %s", b)
	}
	if got := status(cl.Get("idx", "nope")); got != "[404" {
		t.Errorf("GET of a missing document: %s", got)
	}
	res, err = cl.Count(cl.Count.WithIndex("idx"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `"count":1`) {
		t.Errorf("count: %s", b)
	}
}
