package estest

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is the stand-in: an http.Handler, and with NewServer a listening
// test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of a server made by NewServer.
	URL string

	cfg config
	ts  *httptest.Server

	mu      sync.Mutex
	indices map[string]*index
	itemF   func(Action) int
	reqF    func(*http.Request) int
	delay   time.Duration
	stats   Stats
	cur     struct{ bytes, requests int64 }
}

// Stats count what the server received.
type Stats struct {
	// Requests is the number of _bulk requests, Items the number of
	// actions in those that parsed.
	Requests, Items int
	// Statuses counts the items by their status.
	Statuses map[int]int
	// RequestStatuses counts the _bulk requests answered with an error
	// status, by status.
	RequestStatuses map[int]int
	// MaxInflightBytes is the largest sum of the body sizes of _bulk
	// requests being handled at the same time; MaxInflightRequests the
	// largest number of such requests.
	MaxInflightBytes, MaxInflightRequests int64
	// MaxBodyBytes is the largest _bulk body.
	MaxBodyBytes int
}

type config struct {
	version    string
	product    string
	autoCreate bool
	tls        bool
	user, pass string
	apiKey     string
	bearer     string
	forbidden  bool
}

// Option configures a Server.
type Option func(*config)

// Version sets the version number GET / reports (default "8.19.0").
func Version(v string) Option { return func(c *config) { c.version = v } }

// Product sets the X-Elastic-Product header of every response (default
// "Elasticsearch", which the official clients require); "" leaves it
// out, as OpenSearch and other servers do.
func Product(p string) Option { return func(c *config) { c.product = p } }

// NoAutoCreate makes writes to an index that does not exist fail with
// index_not_found_exception, as with action.auto_create_index: false
// (default: indices are created on first write).
func NoAutoCreate() Option { return func(c *config) { c.autoCreate = false } }

// TLS makes NewServer serve HTTPS with a self-signed certificate; see
// Server.CACertPEM.
func TLS() Option { return func(c *config) { c.tls = true } }

// BasicAuth requires HTTP basic authentication with user and password.
func BasicAuth(user, password string) Option {
	return func(c *config) { c.user, c.pass = user, password }
}

// APIKey requires "Authorization: ApiKey <key>".
func APIKey(key string) Option { return func(c *config) { c.apiKey = key } }

// Bearer requires "Authorization: Bearer <token>".
func Bearer(token string) Option { return func(c *config) { c.bearer = token } }

// Forbidden answers every authenticated request with 403 (a user without
// the privileges to write).
func Forbidden() Option { return func(c *config) { c.forbidden = true } }

// New returns the stand-in as an http.Handler, not listening.
func New(opts ...Option) *Server {
	s := &Server{cfg: config{version: "8.19.0", product: "Elasticsearch", autoCreate: true}, indices: map[string]*index{}}
	for _, o := range opts {
		o(&s.cfg)
	}
	s.stats.Statuses, s.stats.RequestStatuses = map[int]int{}, map[int]int{}
	return s
}

// NewServer returns a listening stand-in on a loopback port; Close stops
// it.
func NewServer(opts ...Option) *Server {
	s := New(opts...)
	if s.cfg.tls {
		s.ts = httptest.NewTLSServer(s)
	} else {
		s.ts = httptest.NewServer(s)
	}
	s.URL = s.ts.URL
	return s
}

// Close stops a server made by NewServer.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// CACertPEM returns the PEM certificate of a TLS server, to trust it
// (the ca_file of a client).
func (s *Server) CACertPEM() []byte {
	if s.ts == nil || s.ts.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// SetItemFault sets a function that decides, before each action is
// carried out, whether it fails with a status instead (0: carry it out).
// Typical statuses: 429 (es_rejected_execution_exception), 500, 503.
// nil removes it.
func (s *Server) SetItemFault(f func(Action) int) {
	s.mu.Lock()
	s.itemF = f
	s.mu.Unlock()
}

// FailItems makes the next n actions fail with status.
func (s *Server) FailItems(n, status int) {
	var mu sync.Mutex
	s.SetItemFault(func(Action) int {
		mu.Lock()
		defer mu.Unlock()
		if n <= 0 {
			return 0
		}
		n--
		return status
	})
}

// SetRequestFault sets a function that decides whether a _bulk request
// fails whole with a status (0: handle it). nil removes it.
func (s *Server) SetRequestFault(f func(*http.Request) int) {
	s.mu.Lock()
	s.reqF = f
	s.mu.Unlock()
}

// FailRequests makes the next n _bulk requests fail whole with status.
func (s *Server) FailRequests(n, status int) {
	var mu sync.Mutex
	s.SetRequestFault(func(*http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if n <= 0 {
			return 0
		}
		n--
		return status
	})
}

// SetDelay makes every _bulk request take at least d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// CreateIndex creates an index with explicit field types (dotted paths:
// "long", "double", "text", "keyword", "boolean", "date", "object"). It
// is a no-op for an existing index but for adding the fields.
func (s *Server) CreateIndex(name string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.index(name, true)
	maps.Copy(ix.fields, fields)
}

// CreateDataStream creates a data stream: it takes only op_type create,
// and every document needs a @timestamp.
func (s *Server) CreateDataStream(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.index(name, true)
	ix.dataStream = true
	ix.fields["@timestamp"] = "date"
}

// SetReadOnly blocks writes to an index (403 cluster_block_exception per
// item).
func (s *Server) SetReadOnly(name string, ro bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index(name, true).readOnly = ro
}

// index returns the index name, created when create is true.
func (s *Server) index(name string, create bool) *index {
	ix := s.indices[name]
	if ix == nil && create {
		ix = &index{name: name, fields: map[string]string{}, docs: map[string]*stored{}}
		s.indices[name] = ix
	}
	return ix
}

// Indices returns the names of the indices and data streams, sorted.
func (s *Server) Indices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.indices))
}

// Get returns a document.
func (s *Server) Get(index, id string) (Doc, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[index]
	if ix == nil || ix.docs[id] == nil {
		return Doc{}, false
	}
	return ix.doc(id), true
}

// Docs returns the documents of an index, by id.
func (s *Server) Docs(index string) []Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[index]
	if ix == nil {
		return nil
	}
	out := make([]Doc, 0, len(ix.docs))
	for _, id := range slices.Sorted(maps.Keys(ix.docs)) {
		out = append(out, ix.doc(id))
	}
	return out
}

// Count returns the number of documents in an index.
func (s *Server) Count(index string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.indices[index]; ix != nil {
		return len(ix.docs)
	}
	return 0
}

// Stats returns what the server counted so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Statuses, st.RequestStatuses = maps.Clone(st.Statuses), maps.Clone(st.RequestStatuses)
	return st
}

func (ix *index) doc(id string) Doc {
	d := ix.docs[id]
	b, _ := json.Marshal(d.source)
	return Doc{Index: ix.name, ID: id, Source: b, Version: d.version, SeqNo: d.seqNo}
}

// ServeHTTP implements http.Handler: GET / (cluster info), POST or PUT
// /_bulk and /{index}/_bulk, GET /{index}/_doc/{id}, GET /{index}/_count,
// HEAD and PUT /{index}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.product != "" {
		w.Header().Set("X-Elastic-Product", s.cfg.product)
	}
	if status, reason := s.auth(r); status != 0 {
		w.Header().Set("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
		writeError(w, status, "security_exception", reason)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.info(w)
	case parts[len(parts)-1] == "_bulk" && len(parts) <= 2 && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		def := ""
		if len(parts) == 2 {
			def = parts[0]
		}
		s.bulk(w, r, def)
	case len(parts) == 3 && parts[1] == "_doc" && r.Method == http.MethodGet:
		s.getDoc(w, parts[0], parts[2])
	case len(parts) == 2 && parts[1] == "_count" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.mu.Lock()
		ix := s.indices[parts[0]]
		n := 0
		if ix != nil {
			n = len(ix.docs)
		}
		s.mu.Unlock()
		if ix == nil {
			writeError(w, 404, "index_not_found_exception", "no such index ["+parts[0]+"]")
			return
		}
		writeJSON(w, 200, map[string]any{"count": n})
	case len(parts) == 1 && parts[0] != "" && r.Method == http.MethodHead:
		s.mu.Lock()
		ix := s.indices[parts[0]]
		s.mu.Unlock()
		if ix == nil {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(200)
	case len(parts) == 1 && parts[0] != "" && r.Method == http.MethodPut:
		if msg := validIndexName(parts[0]); msg != "" {
			writeError(w, 400, "invalid_index_name_exception", "Invalid index name ["+parts[0]+"], "+msg)
			return
		}
		s.CreateIndex(parts[0], nil)
		writeJSON(w, 200, map[string]any{"acknowledged": true, "index": parts[0]})
	default:
		writeError(w, 400, "illegal_argument_exception",
			fmt.Sprintf("the stand-in has no endpoint %s %s", r.Method, r.URL.Path))
	}
}

// auth checks the credentials a request carries against those the server
// requires: 401 when they are missing or wrong, 403 with Forbidden.
func (s *Server) auth(r *http.Request) (int, string) {
	c := &s.cfg
	if c.user == "" && c.apiKey == "" && c.bearer == "" {
		if c.forbidden {
			return 403, "action [indices:data/write/bulk] is unauthorized for user [anonymous]"
		}
		return 0, ""
	}
	h := r.Header.Get("Authorization")
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	// Schemes are case-insensitive (the Go client sends "APIKey").
	scheme, cred, _ := strings.Cut(h, " ")
	okAuth := false
	switch {
	case c.user != "" && strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(cred)
		okAuth = err == nil && eq(string(b), c.user+":"+c.pass)
	case c.apiKey != "" && strings.EqualFold(scheme, "ApiKey"):
		okAuth = eq(cred, c.apiKey)
	case c.bearer != "" && strings.EqualFold(scheme, "Bearer"):
		okAuth = eq(cred, c.bearer)
	}
	if !okAuth {
		if h == "" {
			return 401, "missing authentication credentials for REST request [" + r.URL.Path + "]"
		}
		return 401, "unable to authenticate with provided credentials"
	}
	if c.forbidden {
		return 403, "action [indices:data/write/bulk] is unauthorized for user [" + c.user + "]"
	}
	return 0, ""
}

func (s *Server) info(w http.ResponseWriter) {
	writeJSON(w, 200, map[string]any{
		"name": "stand-in", "cluster_name": "estest", "cluster_uuid": "stand-in",
		"version": map[string]any{"number": s.cfg.version, "build_flavor": "default",
			"lucene_version": "9.12.0", "minimum_wire_compatibility_version": "7.17.0",
			"minimum_index_compatibility_version": "7.0.0"},
		"tagline": "You Know, for Search",
	})
}

func (s *Server) getDoc(w http.ResponseWriter, idx, id string) {
	d, found := s.Get(idx, id)
	if !found {
		writeJSON(w, 404, map[string]any{"_index": idx, "_id": id, "found": false})
		return
	}
	writeJSON(w, 200, map[string]any{"_index": idx, "_id": id, "_version": d.Version, "_seq_no": d.SeqNo,
		"_primary_term": 1, "found": true, "_source": d.Source})
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, defaultIndex string) {
	start := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, 400, "parse_exception", "reading the request body: "+err.Error())
		return
	}
	s.mu.Lock()
	s.stats.Requests++
	s.stats.MaxBodyBytes = max(s.stats.MaxBodyBytes, len(body))
	s.cur.bytes += int64(len(body))
	s.cur.requests++
	s.stats.MaxInflightBytes = max(s.stats.MaxInflightBytes, s.cur.bytes)
	s.stats.MaxInflightRequests = max(s.stats.MaxInflightRequests, s.cur.requests)
	reqF, delay := s.reqF, s.delay
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cur.bytes -= int64(len(body))
		s.cur.requests--
		s.mu.Unlock()
	}()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if reqF != nil {
		if status := reqF(r); status != 0 {
			s.countRequest(status)
			writeError(w, status, typeOfStatus(status), fmt.Sprintf("injected failure of the whole request (status %d)", status))
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		s.countRequest(406)
		writeError(w, 406, "media_type_header_exception", "Content-Type header ["+ct+"] is not supported")
		return
	}
	actions, err := ParseBulk(body, defaultIndex)
	if err != nil {
		s.countRequest(400)
		pe, _ := err.(*ParseError)
		writeError(w, 400, pe.Type, pe.Reason)
		return
	}
	items := make([]map[string]result, len(actions))
	hasErrors := false
	s.mu.Lock()
	itemF := s.itemF
	s.stats.Items += len(actions)
	s.mu.Unlock()
	for i := range actions {
		a := &actions[i]
		var res result
		if itemF != nil {
			if st := itemF(*a); st != 0 {
				res = failed(a, st, typeOfStatus(st), fmt.Sprintf("injected failure (status %d)", st))
			}
		}
		s.mu.Lock()
		if res.Status == 0 {
			res = s.apply(a)
		}
		s.stats.Statuses[res.Status]++
		s.mu.Unlock()
		if res.Error != nil {
			hasErrors = true
		}
		items[i] = map[string]result{a.Op: res}
	}
	writeJSON(w, 200, map[string]any{"took": time.Since(start).Milliseconds(), "errors": hasErrors, "items": items})
}

func (s *Server) countRequest(status int) {
	s.mu.Lock()
	s.stats.RequestStatuses[status]++
	s.mu.Unlock()
}

func typeOfStatus(status int) string {
	switch status {
	case 429:
		return "es_rejected_execution_exception"
	case 503:
		return "unavailable_shards_exception"
	case 401, 403:
		return "security_exception"
	case 409:
		return "version_conflict_engine_exception"
	case 404:
		return "index_not_found_exception"
	}
	if status >= 500 {
		return "exception"
	}
	return "illegal_argument_exception"
}

// apply carries out one action on the store; s.mu is held.
func (s *Server) apply(a *Action) result {
	if msg := validIndexName(a.Index); msg != "" {
		return failed(a, 400, "invalid_index_name_exception", "Invalid index name ["+a.Index+"], "+msg)
	}
	if a.RequireAlias {
		return failed(a, 404, "index_not_found_exception",
			"no such index ["+a.Index+"] and [require_alias] request flag is [true] and ["+a.Index+"] is not an alias")
	}
	ix := s.indices[a.Index]
	if ix == nil {
		if !s.cfg.autoCreate {
			return failed(a, 404, "index_not_found_exception", "no such index ["+a.Index+"]")
		}
		if a.Op == "delete" {
			return result{Index: a.Index, ID: a.ID, Version: 1, Result: "not_found", Status: 404, Shards: &shards{Total: 2, Successful: 1}}
		}
		ix = s.index(a.Index, true)
	}
	if ix.readOnly {
		return failed(a, 403, "cluster_block_exception", "index ["+a.Index+"] blocked by: [FORBIDDEN/8/index write (api)];")
	}
	if ix.dataStream && a.Op != "create" {
		return failed(a, 400, "illegal_argument_exception",
			"only write ops with an op_type of create are allowed in data streams")
	}
	cur := ix.docs[a.ID]
	if a.IfSeqNo != nil {
		if cur == nil || cur.seqNo != *a.IfSeqNo || *a.IfPrimaryTerm != 1 {
			return failed(a, 409, "version_conflict_engine_exception",
				fmt.Sprintf("[%s]: version conflict, required seqNo [%d], primary term [%d]", a.ID, *a.IfSeqNo, *a.IfPrimaryTerm))
		}
	}
	if a.Version != nil && cur != nil {
		if *a.Version < cur.version || (*a.Version == cur.version && a.VersionType == "external") {
			return failed(a, 409, "version_conflict_engine_exception",
				fmt.Sprintf("[%s]: version conflict, current version [%d] is higher or equal to the one provided [%d]", a.ID, cur.version, *a.Version))
		}
	}
	switch a.Op {
	case "delete":
		if cur == nil {
			return result{Index: a.Index, ID: a.ID, Version: 1, Result: "not_found", Status: 404, Shards: &shards{Total: 2, Successful: 1}}
		}
		delete(ix.docs, a.ID)
		ix.seq++
		d := &stored{version: cur.version + 1, seqNo: ix.seq}
		if a.Version != nil {
			d.version = *a.Version
		}
		return ok(ix, a.ID, d, "deleted", 200)
	case "update":
		var req struct {
			Doc         json.RawMessage `json:"doc"`
			Upsert      json.RawMessage `json:"upsert"`
			DocAsUpsert bool            `json:"doc_as_upsert"`
			DetectNoop  *bool           `json:"detect_noop"`
		}
		_ = json.Unmarshal(a.Source, &req)
		patch, err := decodeDoc(req.Doc)
		if err != nil {
			return failed(a, 400, "document_parsing_exception", "[1:1] failed to parse: "+err.Error())
		}
		if cur == nil {
			src := patch
			switch {
			case req.DocAsUpsert:
			case req.Upsert != nil:
				if src, err = decodeDoc(req.Upsert); err != nil {
					return failed(a, 400, "document_parsing_exception", "[1:1] failed to parse upsert: "+err.Error())
				}
			default:
				return failed(a, 404, "document_missing_exception", "["+a.ID+"]: document missing")
			}
			return s.put(ix, a, src, nil)
		}
		merged := deepCopy(cur.source)
		if !merge(merged, patch) && (req.DetectNoop == nil || *req.DetectNoop) {
			return ok(ix, a.ID, cur, "noop", 200)
		}
		return s.put(ix, a, merged, cur)
	default: // index, create
		if a.Op == "create" && cur != nil {
			return failed(a, 409, "version_conflict_engine_exception",
				fmt.Sprintf("[%s]: version conflict, document already exists (current version [%d])", a.ID, cur.version))
		}
		doc, err := decodeDoc(a.Source)
		if err != nil {
			return failed(a, 400, "document_parsing_exception", "[1:1] failed to parse: "+err.Error())
		}
		if ix.dataStream {
			if _, has := doc["@timestamp"]; !has {
				return failed(a, 400, "document_parsing_exception", "[1:1] failed to parse: data stream timestamp field [@timestamp] is missing")
			}
		}
		return s.put(ix, a, doc, cur)
	}
}

// put stores doc under a's id (a new id when it has none) after checking
// it against the mapping.
func (s *Server) put(ix *index, a *Action, doc map[string]any, cur *stored) result {
	added, msg := ix.mapping(doc)
	if msg != "" {
		r := failed(a, 400, "document_parsing_exception", "[1:1] "+msg)
		r.Error.CausedBy = &errorDetail{Type: "illegal_argument_exception", Reason: msg}
		return r
	}
	maps.Copy(ix.fields, added)
	id := a.ID
	if id == "" {
		id = newID()
	}
	ix.seq++
	d := &stored{source: doc, version: 1, seqNo: ix.seq}
	res, status := "created", 201
	if cur != nil {
		d.version = cur.version + 1
		res, status = "updated", 200
	}
	if a.Version != nil {
		d.version = *a.Version
	}
	ix.docs[id] = d
	return ok(ix, id, d, res, status)
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, isObj := v.(map[string]any); isObj {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":{"type":"exception","reason":"encode response"},"status":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers with an Elasticsearch error document.
func writeError(w http.ResponseWriter, status int, typ, reason string) {
	e := errorDetail{Type: typ, Reason: reason}
	writeJSON(w, status, map[string]any{"error": map[string]any{"root_cause": []errorDetail{e}, "type": typ, "reason": reason}, "status": status})
}
