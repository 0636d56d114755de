package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
)

func TestWriteFlushBatches(t *testing.T) {
	srv := newServer(t)
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), BatchActions(100))...)
	w := mustWriter(t, snk, nil)
	if err := writeAll(w, docs(1000)...); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("docs"); n != 1000 {
		t.Fatalf("%d documents, want 1000", n)
	}
	for i := range 1000 {
		d, ok := source(t, srv, "docs", fmt.Sprintf("d%d", i))
		if !ok || d.N != int64(i) {
			t.Fatalf("d%d: %+v %v", i, d, ok)
		}
	}
	st := srv.Stats()
	if st.Requests < 10 || st.Items != 1000 {
		t.Errorf("%d requests with %d items, want at least 10 requests of at most 100 and 1000 items", st.Requests, st.Items)
	}
}

// TestFlushWaitsForAnswers: a barrier returns only once the slow server
// answered every request.
func TestFlushWaitsForAnswers(t *testing.T) {
	srv := newServer(t)
	srv.SetDelay(150 * time.Millisecond)
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), BatchActions(7), Concurrency(3))...)
	w := mustWriter(t, snk, nil)
	ctx := context.Background()
	for _, d := range docs(50) {
		if err := w.Write(ctx, d, math.MinInt64); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("docs"); n != 50 {
		t.Fatalf("Flush returned with %d of 50 documents stored", n)
	}
}

// TestItemRetries: items failing with 429 and 5xx are sent again, and only
// they.
func TestItemRetries(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := newServer(t)
			srv.FailItems(30, status)
			snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), BatchActions(50))...)
			w := mustWriter(t, snk, nil)
			if err := writeAll(w, docs(200)...); err != nil {
				t.Fatal(err)
			}
			if n := srv.Count("docs"); n != 200 {
				t.Fatalf("%d documents, want 200", n)
			}
			st := srv.Stats()
			if st.Statuses[status] != 30 || st.Items != 230 {
				t.Errorf("statuses %v, %d items: want 30 failures and 230 items (only the failed ones resent)", st.Statuses, st.Items)
			}
		})
	}
}

// TestRetryKeepsOrderPerID: a failed write of an id is retried before a
// later write of the same id, so the last value stays the last.
func TestRetryKeepsOrderPerID(t *testing.T) {
	srv := newServer(t)
	var mu sync.Mutex
	tried := map[string]bool{}
	srv.SetItemFault(func(a estest.Action) int {
		// The first attempt of every write of an odd n fails.
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(string(a.Source), `"value":"odd"`) && !tried[string(a.Source)] {
			tried[string(a.Source)] = true
			return 429
		}
		return 0
	})
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), BatchActions(3), Concurrency(4))...)
	w := mustWriter(t, snk, nil)
	var in []doc
	for n := range 40 {
		for k := range 5 {
			v := "even"
			if n%2 == 1 {
				v = "odd"
			}
			in = append(in, doc{ID: fmt.Sprintf("k%d", k), N: int64(n), Value: v})
		}
	}
	if err := writeAll(w, in...); err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		d, _ := source(t, srv, "docs", fmt.Sprintf("k%d", k))
		if d.N != 39 {
			t.Errorf("k%d holds n=%d, want the last, 39", k, d.N)
		}
	}
	if srv.Stats().Statuses[429] == 0 {
		t.Fatal("no item failed: the test tests nothing")
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := newServer(t)
	srv.SetItemFault(func(estest.Action) int { return 503 })
	snk := mustSink(t, JSON[doc](), URLs(srv.URL), Index("docs"), ID(docID), Retries(3, time.Millisecond, 2*time.Millisecond), Concurrency(1))
	w := mustWriter(t, snk, nil)
	err := writeAll(w, docs(5)...)
	if err == nil || connector.IsPermanent(err) || !errors.Is(err, errRetriesExhausted) {
		t.Fatalf("got %v, want a transient error after the retries", err)
	}
	if got := srv.Stats().Items; got != 5*4 {
		t.Errorf("%d items sent, want 5 × (1 + 3 retries)", got)
	}
	if err2 := w.Write(context.Background(), doc{ID: "x"}, 0); err2 == nil {
		t.Error("a failed writer took another element")
	}
}

func TestRequestFailures(t *testing.T) {
	cases := []struct {
		status    int
		n         int
		permanent bool
		want      string
	}{
		{503, 3, false, ""},
		{429, 2, false, ""},
		{502, 1, false, ""},
		{401, 1, true, "authentication refused"},
		{403, 1, true, "not allowed"},
		{413, 1, true, "batch_bytes"},
		{400, 1, true, "status 400"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			srv := newServer(t)
			srv.FailRequests(c.n, c.status)
			snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID))...)
			w := mustWriter(t, snk, nil)
			err := writeAll(w, docs(20)...)
			if !c.permanent {
				if err != nil || srv.Count("docs") != 20 {
					t.Fatalf("err %v, %d documents: want all written after the retries", err, srv.Count("docs"))
				}
				return
			}
			if !connector.IsPermanent(err) || !errors.Is(err, connector.ErrRejected) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a permanent rejection saying %q", err, c.want)
			}
		})
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	srv := estest.NewServer()
	url := srv.URL
	srv.Close()
	snk := mustSink(t, JSON[doc](), URLs(url), Index("docs"), ID(docID), Retries(2, time.Millisecond, time.Millisecond))
	w := mustWriter(t, snk, nil)
	err := writeAll(w, docs(3)...)
	if err == nil || connector.IsPermanent(err) {
		t.Fatalf("got %v, want a transient error", err)
	}
}

// TestRefusedDocuments: refusals that no retry can fix fail the job,
// naming index, id and reason.
func TestRefusedDocuments(t *testing.T) {
	cases := []struct {
		name    string
		opts    []estest.Option
		prepare func(*estest.Server)
		doc     doc
		is      error
		want    []string
	}{
		{"mapping conflict", nil, func(s *estest.Server) { s.CreateIndex("docs", map[string]string{"value": "long"}) },
			doc{ID: "bad-1", Value: "abc"}, connector.ErrBadRecord,
			[]string{`index "docs"`, `document id "bad-1"`, "status 400", "document_parsing_exception", "failed to parse field [value] of type [long]", "mapping"}},
		{"missing index", []estest.Option{estest.NoAutoCreate()}, nil,
			doc{ID: "x"}, connector.ErrRejected,
			[]string{`index "docs"`, `document id "`, "index_not_found_exception", "auto_create_index"}},
		{"read-only index", nil, func(s *estest.Server) { s.SetReadOnly("docs", true) },
			doc{ID: "y"}, connector.ErrRejected,
			[]string{"status 403", "cluster_block_exception"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, c.opts...)
			if c.prepare != nil {
				c.prepare(srv)
			}
			snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID))...)
			w := mustWriter(t, snk, nil)
			err := writeAll(w, doc{ID: "good"}, c.doc)
			var rej *RejectedError
			if !connector.IsPermanent(err) || !errors.Is(err, c.is) || !errors.As(err, &rej) {
				t.Fatalf("got %v, want a permanent RejectedError wrapping %v", err, c.is)
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
}

// TestRejectToDeadLetter: a writer context that takes bad records gets the
// refused documents, and the job goes on.
func TestRejectToDeadLetter(t *testing.T) {
	srv := newServer(t)
	srv.CreateIndex("docs", map[string]string{"value": "long"})
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID))...)
	ctx := &rejectCtx{}
	w := mustWriter(t, snk, ctx)
	if err := writeAll(w, doc{ID: "a", Value: "1"}, doc{ID: "b", Value: "x"}, doc{ID: "c", Value: "2"}); err != nil {
		t.Fatal(err)
	}
	if srv.Count("docs") != 2 || len(ctx.bad) != 1 {
		t.Fatalf("%d documents, bad records %v", srv.Count("docs"), ctx.bad)
	}
	b := ctx.bad[0]
	if b.Location != "docs/_doc/b" || !strings.Contains(string(b.Raw), `"value":"x"`) || !strings.Contains(b.Error, "document_parsing_exception") {
		t.Errorf("bad record %+v", b)
	}
}

func TestExternalVersions(t *testing.T) {
	srv := newServer(t)
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID),
		Version(func(d doc) (int64, error) { return d.N, nil }))...)
	w := mustWriter(t, snk, nil)
	// A replay of older versions after newer ones: 409s that count as
	// written, and the newest stays.
	if err := writeAll(w, doc{ID: "a", N: 1}, doc{ID: "a", N: 5}, doc{ID: "a", N: 3}, doc{ID: "a", N: 5}); err != nil {
		t.Fatal(err)
	}
	d, _ := source(t, srv, "docs", "a")
	st, _ := srv.Get("docs", "a")
	if d.N != 5 || st.Version != 5 || srv.Stats().Statuses[409] != 2 {
		t.Fatalf("doc %+v version %d statuses %v", d, st.Version, srv.Stats().Statuses)
	}
}

func TestOperations(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	// create: a replay of an existing id is counted as written.
	c := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("c"), ID(docID), Operation(OpCreate))...), nil)
	if err := writeAll(c, doc{ID: "a", N: 1}, doc{ID: "a", N: 2}); err != nil {
		t.Fatal(err)
	}
	if d, _ := source(t, srv, "c", "a"); d.N != 1 {
		t.Errorf("create overwrote: %+v", d)
	}
	// update: partial documents merged, upserted when missing.
	type part struct {
		ID string `json:"-"`
		A  int    `json:"a,omitempty"`
		B  int    `json:"b,omitempty"`
	}
	u := mustWriter(t, mustSink(t, JSON[part](), append(fast(), URLs(srv.URL), Index("u"), Operation(OpUpdate),
		ID(func(p part) (string, error) { return p.ID, nil }))...), nil)
	if err := writeAll(u, part{ID: "x", A: 1}, part{ID: "x", B: 2}, part{ID: "x", A: 3}); err != nil {
		t.Fatal(err)
	}
	if d, _ := srv.Get("u", "x"); string(d.Source) != `{"a":3,"b":2}` {
		t.Errorf("updated document %s", d.Source)
	}
	// delete, also of documents that are not there; DeleteIf per element.
	if err := writeAll(mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("d"), ID(docID))...), nil), docs(4)...); err != nil {
		t.Fatal(err)
	}
	del := mustWriter(t, mustSink[doc](t, nil, append(fast(), URLs(srv.URL), Index("d"), ID(docID), Operation(OpDelete))...), nil)
	if err := writeAll(del, doc{ID: "d0"}, doc{ID: "d0"}, doc{ID: "nope"}); err != nil {
		t.Fatal(err)
	}
	cdc := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("d"), ID(docID),
		DeleteIf(func(d doc) (bool, error) { return d.Value == "deleted", nil }))...), nil)
	if err := cdc.Write(ctx, doc{ID: "d1", Value: "deleted"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := writeAll(cdc, doc{ID: "d2", N: 20}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range srv.Docs("d") {
		ids = append(ids, d.ID)
	}
	if fmt.Sprint(ids) != "[d2 d3]" {
		t.Errorf("documents left %v, want [d2 d3]", ids)
	}
	// delete of an index never written: nothing to delete.
	if err := writeAll(mustWriter(t, mustSink[doc](t, nil, append(fast(), URLs(srv.URL), Index("never"), ID(docID), Operation(OpDelete))...), nil), doc{ID: "z"}); err != nil {
		t.Fatal(err)
	}
}

func TestTimeIndex(t *testing.T) {
	srv := newServer(t)
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("logs-{yyyy.MM.dd}"), ID(docID))...)
	w := mustWriter(t, snk, nil)
	ctx := context.Background()
	day := time.Date(2024, 5, 1, 23, 59, 59, 0, time.UTC)
	for i, ts := range []time.Time{day, day.Add(time.Second), day.Add(25 * time.Hour)} {
		if err := w.Write(ctx, doc{ID: fmt.Sprint(i)}, ts.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(srv.Indices()); got != "[logs-2024.05.01 logs-2024.05.02 logs-2024.05.03]" {
		t.Errorf("indices %s", got)
	}
	// Without an event timestamp the element cannot be placed.
	err := w.Write(ctx, doc{ID: "x"}, math.MinInt64)
	if !errors.Is(err, connector.ErrBadRecord) || !strings.Contains(err.Error(), "no event timestamp") {
		t.Errorf("got %v", err)
	}
	// A time from the element, and an index from the element.
	w2 := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("m-{yyyy-MM}"), ID(docID),
		IndexTime(func(d doc) (time.Time, error) { return time.UnixMilli(d.N), nil }))...), nil)
	w3 := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), ID(docID),
		IndexFunc(func(d doc) (string, error) { return "tenant-" + d.Value, nil }))...), nil)
	if err := writeAll(w2, doc{ID: "a", N: day.UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	if err := writeAll(w3, doc{ID: "a", Value: "x"}); err != nil {
		t.Fatal(err)
	}
	if srv.Count("m-2024-05") != 1 || srv.Count("tenant-x") != 1 {
		t.Errorf("indices %v", srv.Indices())
	}
}

func TestDataStream(t *testing.T) {
	srv := newServer(t)
	srv.CreateDataStream("logs-app-default")
	type ev struct {
		TS  string `json:"@timestamp"`
		Msg string `json:"message"`
	}
	w := mustWriter(t, mustSink(t, JSON[ev](), append(fast(), URLs(srv.URL), Index("logs-app-default"), Operation(OpCreate))...), nil)
	if err := writeAll(w, ev{"2024-05-01T00:00:00Z", "a"}, ev{"2024-05-01T00:00:01Z", "b"}); err != nil {
		t.Fatal(err)
	}
	if srv.Count("logs-app-default") != 2 {
		t.Fatal("documents missing from the data stream")
	}
	// index is refused by a data stream: a permanent failure.
	w2 := mustWriter(t, mustSink(t, JSON[ev](), append(fast(), URLs(srv.URL), Index("logs-app-default"))...), nil)
	if err := writeAll(w2, ev{"2024-05-01T00:00:00Z", "c"}); !connector.IsPermanent(err) || !strings.Contains(err.Error(), "op_type of create") {
		t.Fatalf("got %v", err)
	}
}

// TestInflightBound: the bytes a writer holds, and so the request bodies
// the server handles at once, stay within MaxInflightBytes.
func TestInflightBound(t *testing.T) {
	srv := newServer(t)
	srv.SetDelay(20 * time.Millisecond)
	const bound = 8 << 10
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID),
		BatchBytes(1<<10), Concurrency(8), MaxInflightBytes(bound))...)
	w := mustWriter(t, snk, nil)
	in := docs(600)
	for i := range in {
		in[i].Value = strings.Repeat("v", 40)
	}
	if err := writeAll(w, in...); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if srv.Count("docs") != 600 || st.MaxInflightBytes > bound || st.MaxInflightRequests < 2 {
		t.Fatalf("%d documents; at most %d bytes in %d requests at once, bound %d", srv.Count("docs"), st.MaxInflightBytes, st.MaxInflightRequests, bound)
	}
	t.Logf("at most %d bytes in %d concurrent requests (bound %d)", st.MaxInflightBytes, st.MaxInflightRequests, bound)
}

// TestCloseEndsRequests: Close does not wait for a server that does not
// answer.
func TestCloseEndsRequests(t *testing.T) {
	srv := newServer(t)
	srv.SetDelay(time.Hour)
	snk := mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID))...)
	w, err := snk.NewWriter(wctx{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = w.Write(ctx, doc{ID: "a"}, 0)
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush: %v, want the context's deadline", err)
	}
	done := make(chan struct{})
	go func() { _ = w.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestAuthentication(t *testing.T) {
	const secret = "s3cr3t-Value"
	cases := []struct {
		name   string
		server estest.Option
		good   Option
		bad    Option
	}{
		{"basic", estest.BasicAuth("elastic", secret), BasicAuth("elastic", secret), BasicAuth("elastic", secret+"x")},
		{"api key", estest.APIKey(secret), APIKey(secret), APIKey(secret + "x")},
		{"bearer", estest.Bearer(secret), BearerToken(secret), BearerToken(secret + "x")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, c.server)
			good := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), c.good)...), nil)
			if err := writeAll(good, docs(3)...); err != nil {
				t.Fatal(err)
			}
			for _, o := range []Option{c.bad, Name("no credentials")} {
				w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), o)...), nil)
				err := writeAll(w, docs(1)...)
				if !connector.IsPermanent(err) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "credentials") {
					t.Errorf("got %v, want a permanent 401", err)
				}
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
			}
		})
	}
	t.Run("from the environment", func(t *testing.T) {
		srv := newServer(t, estest.APIKey(secret))
		t.Setenv("TEST_ES_API_KEY", secret)
		w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), fromEnv("", "", "TEST_ES_API_KEY", ""))...), nil)
		if err := writeAll(w, docs(1)...); err != nil {
			t.Fatal(err)
		}
		snk := mustSink(t, JSON[doc](), URLs(srv.URL), Index("docs"), fromEnv("", "", "TEST_ES_UNSET_VAR", ""))
		if _, err := snk.NewWriter(wctx{}, nil); !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), "TEST_ES_UNSET_VAR") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		srv := newServer(t, estest.BasicAuth("u", secret), estest.Forbidden())
		w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), BasicAuth("u", secret))...), nil)
		if err := writeAll(w, docs(1)...); !errors.Is(err, connector.ErrRejected) || !strings.Contains(err.Error(), "403") {
			t.Errorf("got %v", err)
		}
	})
}

func TestTLS(t *testing.T) {
	srv := newServer(t, estest.TLS())
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), CAFile(ca))...), nil)
	if err := writeAll(w, docs(3)...); err != nil {
		t.Fatal(err)
	}
	// Without the CA the certificate is not trusted: permanent.
	w2 := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID))...), nil)
	if err := writeAll(w2, docs(1)...); !connector.IsPermanent(err) || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("got %v, want a permanent error about the CA", err)
	}
	if _, err := NewSink(JSON[doc](), URLs(srv.URL), Index("docs"), CAFile(filepath.Join(t.TempDir(), "none.pem"))); !errors.Is(err, connector.ErrConfig) {
		t.Errorf("missing CA file: %v", err)
	}
}

// TestNotElasticsearch: the client refuses a server without the product
// header (OpenSearch), and the sink says so, for good.
func TestNotElasticsearch(t *testing.T) {
	srv := newServer(t, estest.Product(""))
	w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID))...), nil)
	err := writeAll(w, docs(1)...)
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), "OpenSearch") {
		t.Fatalf("got %v", err)
	}
}

func TestElasticsearch9(t *testing.T) {
	srv := newServer(t, estest.Version("9.1.0"))
	w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID))...), nil)
	if err := writeAll(w, docs(10)...); err != nil || srv.Count("docs") != 10 {
		t.Fatalf("%v, %d documents", err, srv.Count("docs"))
	}
}

func TestBadElements(t *testing.T) {
	srv := newServer(t)
	cases := []struct {
		name string
		opts []Option
		doc  func(doc) ([]byte, error)
		want string
	}{
		{"empty id", []Option{ID(func(doc) (string, error) { return "", nil })}, JSON[doc](), "id: empty"},
		{"id error", []Option{ID(func(doc) (string, error) { return "", errors.New("boom") })}, JSON[doc](), "id: boom"},
		{"not an object", []Option{ID(docID)}, func(doc) ([]byte, error) { return []byte(`[1]`), nil }, "not a JSON object"},
		{"negative version", []Option{ID(docID), Version(func(doc) (int64, error) { return -1, nil })}, JSON[doc](), "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := mustWriter(t, mustSink(t, c.doc, append(append(fast(), URLs(srv.URL), Index("docs")), c.opts...)...), nil)
			err := writeAll(w, doc{ID: "a"})
			if !errors.Is(err, connector.ErrBadRecord) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a bad record saying %q", err, c.want)
			}
		})
	}
	// Newlines inside a document are white space: the document is one line.
	w := mustWriter(t, mustSink(t, func(doc) ([]byte, error) { return []byte("{\n \"n\": 7,\r\n \"value\": \"a\\nb\"\n}\n"), nil },
		append(fast(), URLs(srv.URL), Index("nl"), ID(docID))...), nil)
	if err := writeAll(w, doc{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if d, _ := source(t, srv, "nl", "a"); d.N != 7 || d.Value != "a\nb" {
		t.Errorf("%+v", d)
	}
}

func TestNewSinkErrors(t *testing.T) {
	id := ID(docID)
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"no url", []Option{Index("x")}, "no URL"},
		{"bad url", []Option{URLs("localhost:9200"), Index("x")}, "not an http"},
		{"credentials in url", []Option{URLs("http://u:pw@localhost:9200"), Index("x")}, "carries credentials"},
		{"no index", []Option{URLs("http://localhost:9200")}, "no index"},
		{"upper case index", []Option{URLs("http://localhost:9200"), Index("Logs")}, "lowercase"},
		{"bad pattern", []Option{URLs("http://localhost:9200"), Index("logs-{yyyy.QQ}")}, "not part of a time format"},
		{"unclosed pattern", []Option{URLs("http://localhost:9200"), Index("logs-{yyyy")}, "unclosed"},
		{"update without id", []Option{URLs("http://localhost:9200"), Index("x"), Operation(OpUpdate)}, "needs document ids"},
		{"delete if without id", []Option{URLs("http://localhost:9200"), Index("x"), DeleteIf(func(doc) (bool, error) { return false, nil })}, "DeleteIf needs"},
		{"version with create", []Option{URLs("http://localhost:9200"), Index("x"), id, Operation(OpCreate), Version(func(doc) (int64, error) { return 1, nil })}, "index and delete"},
		{"version type", []Option{URLs("http://localhost:9200"), Index("x"), id, Version(func(doc) (int64, error) { return 1, nil }), VersionType("internal")}, "external_gte"},
		{"wrong element type", []Option{URLs("http://localhost:9200"), Index("x"), ID(func(string) (string, error) { return "", nil })}, "element type"},
		{"bad op", []Option{URLs("http://localhost:9200"), Index("x"), Operation("upsert")}, "operation"},
		{"bad numbers", []Option{URLs("http://localhost:9200"), Index("x"), Concurrency(0), BatchBytes(0), MaxInflightBytes(0)}, "Concurrency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSink(JSON[doc](), c.opts...)
			if !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an ErrConfig saying %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestDeclare(t *testing.T) {
	base := []Option{URLs("http://localhost:9200"), Index("x")}
	version := Version(func(doc) (int64, error) { return 1, nil })
	cases := []struct {
		name string
		opts []Option
		cp   bool
		want connector.Guarantee
		says string
	}{
		{"id", []Option{ID(docID)}, true, connector.ExactlyOnce, "overwrite"},
		{"id update", []Option{ID(docID), Operation(OpUpdate)}, true, connector.ExactlyOnce, "update"},
		{"id delete", []Option{ID(docID), Operation(OpDelete)}, true, connector.ExactlyOnce, "delete"},
		{"versions", []Option{ID(docID), version}, true, connector.ExactlyOnce, "external versions"},
		{"no id", nil, true, connector.AtLeastOnce, "no document id"},
		{"create", []Option{Operation(OpCreate)}, true, connector.AtLeastOnce, "no document id"},
		{"create with id", []Option{ID(docID), Operation(OpCreate)}, true, connector.AtLeastOnce, "rollover"},
		{"no checkpoints", []Option{ID(docID)}, false, connector.AtLeastOnce, "no checkpoints"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fn := JSON[doc]()
			s := mustSink(t, fn, append(append([]Option{}, base...), c.opts...)...)
			d := s.Declare(c.cp)
			if d.Guarantee != c.want || !strings.Contains(d.Reason, c.says) {
				t.Errorf("%v: %s; want %v saying %q", d.Guarantee, d.Reason, c.want, c.says)
			}
		})
	}
}

// TestRequestShape: the client's requests carry a JSON content type and
// the metadata the options ask for.
func TestRequestShape(t *testing.T) {
	var body []byte
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctype = r.Header.Get("Content-Type")
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		_, _ = w.Write([]byte(`{"took":1,"errors":false,"items":[{"index":{"status":201}}]}`))
	}))
	defer srv.Close()
	w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("x"), ID(docID),
		Version(func(d doc) (int64, error) { return d.N, nil }), VersionType("external_gte"))...), nil)
	if err := writeAll(w, doc{ID: "a\"b", N: 7}); err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_index":"x","_id":"a\"b","version":7,"version_type":"external_gte"}}` + "\n" + `{"id":"a\"b","n":7}` + "\n"
	if string(body) != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
	if !strings.Contains(ctype, "json") {
		t.Errorf("content type %q", ctype)
	}
}

// TestFailover: with one of two nodes down, requests that fail on it are
// sent again and reach the other.
func TestFailover(t *testing.T) {
	down := estest.NewServer()
	downURL := down.URL
	down.Close()
	srv := newServer(t)
	w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(downURL, srv.URL), Index("docs"), ID(docID), BatchActions(10))...), nil)
	if err := writeAll(w, docs(100)...); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("docs"); n != 100 {
		t.Fatalf("%d documents, want 100", n)
	}
}

// TestRepeatedIDInBatch: writes of one id that would share a request
// either replace one another (index) or go in separate requests (update),
// so a retried earlier write never lands after a later one.
func TestRepeatedIDInBatch(t *testing.T) {
	for _, op := range []Op{OpIndex, OpUpdate} {
		t.Run(string(op), func(t *testing.T) {
			srv := newServer(t)
			var mu sync.Mutex
			tried := map[string]bool{}
			srv.SetItemFault(func(a estest.Action) int {
				mu.Lock()
				defer mu.Unlock()
				if strings.Contains(string(a.Source), `"even"`) && !tried[string(a.Source)] {
					tried[string(a.Source)] = true
					return 429 // the first attempt of every write of an even n
				}
				return 0
			})
			w := mustWriter(t, mustSink(t, JSON[doc](), append(fast(), URLs(srv.URL), Index("docs"), ID(docID), Operation(op),
				BatchActions(10), Concurrency(1), FlushInterval(time.Hour))...), nil)
			var in []doc
			for n := range 26 {
				v := "odd"
				if n%2 == 0 {
					v = "even"
				}
				in = append(in, doc{ID: "k", N: int64(n), Value: v}, doc{ID: fmt.Sprint("o", n), N: int64(n), Value: v})
			}
			if err := writeAll(w, in...); err != nil {
				t.Fatal(err)
			}
			if d, _ := source(t, srv, "docs", "k"); d.N != 25 {
				t.Errorf("k holds n=%d, want the last, 25", d.N)
			}
			if srv.Count("docs") != 27 {
				t.Errorf("%d documents, want 27", srv.Count("docs"))
			}
		})
	}
}
