package httpstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/sluicetest"
)

// xServer is a stand-in for the X API v2 filtered stream and its rules
// endpoints, framed as X frames it: JSON objects ended by CRLF, a CRLF
// keep-alive, an operational-disconnect message that asks the client to
// reconnect, 429 with x-rate-limit-reset.
type xServer struct {
	*httptest.Server
	token string
	// conns are the stream's responses, one per connection: each line is
	// sent followed by CRLF ("" is a keep-alive); the last connection
	// then sends keep-alives until the client leaves. A connection given
	// as "429" is throttled.
	conns [][]string
	reset int64 // x-rate-limit-reset of a 429

	mu      sync.Mutex
	rules   []xRule
	nextID  int
	streams int
	queries []string
	posts   []string
}

type xRule struct {
	ID    string `json:"id"`
	Value string `json:"value"`
	Tag   string `json:"tag,omitempty"`
}

func newXServer(t testing.TB, token string, rules []xRule, conns ...[]string) *xServer {
	x := &xServer{token: token, rules: rules, conns: conns, nextID: 100}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2/tweets/search/stream", x.stream)
	mux.HandleFunc("GET /2/tweets/search/stream/rules", x.getRules)
	mux.HandleFunc("POST /2/tweets/search/stream/rules", x.postRules)
	x.Server = httptest.NewServer(x.auth(mux))
	t.Cleanup(x.Close)
	return x
}

func (x *xServer) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+x.token {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (x *xServer) stream(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	n := x.streams
	x.streams++
	x.queries = append(x.queries, r.URL.RawQuery)
	x.mu.Unlock()
	var lines []string
	hold := n >= len(x.conns)-1
	if n < len(x.conns) {
		lines = x.conns[n]
	}
	if len(lines) == 1 && lines[0] == "429" {
		w.Header().Set("x-rate-limit-limit", "50")
		w.Header().Set("x-rate-limit-remaining", "0")
		w.Header().Set("x-rate-limit-reset", strconv.FormatInt(x.reset, 10))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","type":"https://api.twitter.com/2/problems/streaming-connection"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	for _, l := range lines {
		if _, err := fmt.Fprint(w, l+"\r\n"); err != nil {
			return
		}
		f.Flush()
	}
	for hold {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := fmt.Fprint(w, "\r\n"); err != nil {
			return
		}
		f.Flush()
	}
}

func (x *xServer) getRules(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	defer x.mu.Unlock()
	res := map[string]any{"meta": map[string]any{"sent": "2026-12-07T21:00:00.000Z", "result_count": len(x.rules)}}
	if len(x.rules) > 0 {
		res["data"] = x.rules
	}
	json.NewEncoder(w).Encode(res)
}

func (x *xServer) postRules(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Add    []xRule `json:"add"`
		Delete *struct {
			IDs []string `json:"ids"`
		} `json:"delete"`
	}
	var body bytes.Buffer
	body.ReadFrom(r.Body)
	if err := json.Unmarshal(body.Bytes(), &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.posts = append(x.posts, body.String())
	var errs []map[string]any
	switch {
	case req.Delete != nil:
		x.rules = slices.DeleteFunc(x.rules, func(r xRule) bool { return slices.Contains(req.Delete.IDs, r.ID) })
	default:
		for _, a := range req.Add {
			if strings.Contains(a.Value, "((") {
				errs = append(errs, map[string]any{"value": a.Value, "details": []string{"Rules must contain balanced parentheses"}, "title": "UnprocessableEntity", "type": "https://api.twitter.com/2/problems/invalid-rules"})
				continue
			}
			x.nextID++
			x.rules = append(x.rules, xRule{ID: strconv.Itoa(x.nextID), Value: a.Value, Tag: a.Tag})
		}
	}
	res := map[string]any{"meta": map[string]any{"sent": "2026-12-07T21:00:00.000Z"}}
	if errs != nil {
		res["errors"] = errs
	}
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(res)
}

func (x *xServer) state() (rules []xRule, streams int, queries, posts []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.rules), x.streams, slices.Clone(x.queries), slices.Clone(x.posts)
}

func tweet(id, text string) string {
	return fmt.Sprintf(`{"data":{"id":%q,"text":%q,"edit_history_tweet_ids":[%q]},"matching_rules":[{"id":"101","tag":"cats"}]}`, id, text, id)
}

const operationalDisconnect = `{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`

func jsonRecord(e Event) (connector.Record, error) {
	var r connector.Record
	err := json.Unmarshal(e.Data, &r)
	return r, err
}

func TestTwitterFilteredStream(t *testing.T) {
	const token = "AAAAAAAAAAAAAAAAAAAAAx-test-bearer"
	t.Setenv("X_TEST_TOKEN", token)
	x := newXServer(t, token,
		[]xRule{{ID: "1", Value: "dog has:images", Tag: "dogs"}, {ID: "2", Value: "cat has:images", Tag: "cats"}},
		[]string{"429"},
		[]string{tweet("1", "one"), "", tweet("2", "two"), "", operationalDisconnect, tweet("x", "never read")},
		[]string{"", tweet("3", "three")},
	)
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	x.reset = c.now.Unix() + 30
	src, err := NewTwitterSource(jsonRecord, BaseURL(x.URL), BearerTokenEnv("X_TEST_TOKEN"),
		Rules(Rule{Value: "cat has:images", Tag: "cats"}, Rule{Value: "kitten", Tag: "cats"}),
		Expansions("author_id"), Fields("tweet.fields", "created_at", "lang"), Fields("user.fields", "username"),
		withClock(c))
	if err != nil {
		t.Fatal(err)
	}
	if d := src.Declare(true); d.Guarantee != connector.AtMostOnce {
		t.Fatalf("declared %v", d)
	}
	j := start(t, src)
	eventually(t, "3 posts", func() bool { return j.out.Len() >= 3 })
	j.stop(t)
	var ids []string
	for _, r := range j.out.Values() {
		ids = append(ids, r["data"].(map[string]any)["id"].(string))
	}
	if !slices.Equal(ids, []string{"1", "2", "3"}) {
		t.Fatalf("posts %v, want 1, 2, 3 (the disconnect message is no record; the post after it was not read)", ids)
	}
	rules, streams, queries, posts := x.state()
	want := []xRule{{ID: "2", Value: "cat has:images", Tag: "cats"}, {ID: "101", Value: "kitten", Tag: "cats"}}
	if !slices.Equal(rules, want) {
		t.Fatalf("rules %+v, want %+v", rules, want)
	}
	if len(posts) != 2 || !strings.Contains(posts[0], `"delete":{"ids":["1"]}`) || !strings.Contains(posts[1], `"add":[{"value":"kitten","tag":"cats"}]`) {
		t.Fatalf("rule requests %q", posts)
	}
	if streams != 3 {
		t.Fatalf("%d stream requests, want 3 (429, disconnected, held)", streams)
	}
	if queries[0] != "expansions=author_id&tweet.fields=created_at%2Clang&user.fields=username" {
		t.Fatalf("query %q", queries[0])
	}
	// The 429 waited a minute (x-rate-limit-reset, 30s later, is
	// earlier); the operational disconnect of a connection that was not
	// yet healthy (on the fake clock no time passed) was backed off from
	// as from a network error.
	if got := c.recorded(); !slices.Equal(got, []time.Duration{time.Minute, 250 * time.Millisecond}) {
		t.Fatalf("waits %v, want [1m 250ms]", got)
	}
	if strings.Contains(j.log.String(), token) {
		t.Fatal("the token is in the log")
	}
}

func TestTwitterRejectedRuleEndsTheJob(t *testing.T) {
	x := newXServer(t, "tok", nil)
	src, err := NewTwitterSource(jsonRecord, BaseURL(x.URL), BearerToken("tok"), Rules(Rule{Value: "((cat"}))
	if err != nil {
		t.Fatal(err)
	}
	err = start(t, src).wait(t)
	if !errors.Is(err, connector.ErrRejected) || !strings.Contains(err.Error(), `"((cat": UnprocessableEntity: Rules must contain balanced parentheses`) ||
		!strings.Contains(err.Error(), x.URL+"/2/tweets/search/stream/rules") {
		t.Fatalf("got %v", err)
	}
}

func TestTwitterUnauthorized(t *testing.T) {
	x := newXServer(t, "right", nil)
	t.Setenv("X_TEST_TOKEN", "wrong-token")
	src, err := NewTwitterSource(jsonRecord, BaseURL(x.URL), BearerTokenEnv("X_TEST_TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	err = start(t, src).wait(t)
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "X_TEST_TOKEN") ||
		!strings.Contains(err.Error(), x.URL+"/2/tweets/search/stream") || strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("got %v", err)
	}
	if _, err := NewTwitterSource(jsonRecord); !errors.Is(err, connector.ErrConfig) {
		t.Fatalf("without a token: %v", err)
	}
	t.Setenv("X_TEST_TOKEN", "")
	src, _ = NewTwitterSource(jsonRecord, BaseURL(x.URL), BearerTokenEnv("X_TEST_TOKEN"))
	if err := start(t, src).wait(t); !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), "X_TEST_TOKEN is not set") {
		t.Fatalf("with an empty variable: %v", err)
	}
}

// TestTwitterYAML runs a YAML pipeline with the twitter source against
// the stand-in.
func TestTwitterYAML(t *testing.T) {
	const token = "yaml-token-123"
	x := newXServer(t, token, nil, []string{tweet("7", "seven"), "", operationalDisconnect}, []string{tweet("8", "eight")})
	file := t.TempDir() + "/x.yaml"
	writeFile(t, file, `name: x
source:
  type: twitter
  bearer_token_env: XT
  base_url: ${BASE}
  rules:
    - {value: "cat has:images", tag: cats}
    - value: kitten
  expansions: [author_id]
  tweet_fields: [created_at]
steps:
  - map: {id: data.id, rules: size(matching_rules)}
sink: {type: stdout}
checkpoints: {interval: 50ms, storage: "${CK}"}
`)
	p, err := pipeline.Load(file, pipeline.WithEnv(lookup(map[string]string{"BASE": x.URL, "CK": t.TempDir()})))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XT", token)
	var out sluicetest.Buffer
	env, err := pipeline.Build(p, pipeline.Overrides{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	j := startEnv[any](t, env)
	eventually(t, "two posts", func() bool { return strings.Count(out.String(), "\n") >= 2 })
	j.stop(t)
	if got := out.String(); got != "{\"id\":\"7\",\"rules\":1}\n{\"id\":\"8\",\"rules\":1}\n" {
		t.Fatalf("output %q", got)
	}
	rules, _, _, _ := x.state()
	if len(rules) != 2 || rules[0].Value != "cat has:images" || rules[0].Tag != "cats" || rules[1].Value != "kitten" || rules[1].Tag != "" {
		t.Fatalf("rules %+v", rules)
	}
}
