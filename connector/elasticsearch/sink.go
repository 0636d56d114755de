package elasticsearch

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/sluicehq/sluice/connector"
)

// JSON returns the document function that encodes elements with
// encoding/json.
func JSON[T any]() func(v T) ([]byte, error) {
	return func(v T) ([]byte, error) { return json.Marshal(v) }
}

// Sink writes elements to Elasticsearch as documents, in bulk requests;
// see the package documentation.
type Sink[T any] struct {
	cfg       config
	doc       func(T) ([]byte, error)
	pattern   indexPattern
	indexFn   func(T) (string, error)
	idFn      func(T) (string, error)
	versionFn func(T) (int64, error)
	deleteFn  func(T) (bool, error)
	timeFn    func(T) (time.Time, error)
	transport http.RoundTripper
}

// NewSink returns a sink that writes doc(v), a JSON object, for every
// element v (doc may be nil when the operation is OpDelete). It checks
// the options and reads the CA file.
func NewSink[T any](doc func(v T) ([]byte, error), opts ...Option) (*Sink[T], error) {
	s := &Sink[T]{cfg: defaults(), doc: doc}
	for _, o := range opts {
		o.apply(&s.cfg)
	}
	c := &s.cfg
	errs := c.check()
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.urls) == 0 {
		bad("no URL: use elasticsearch.URLs, e.g. URLs(\"https://localhost:9200\")")
	}
	for _, u := range c.urls {
		if err := checkURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	if err := typed(&s.indexFn, c.indexFn, "IndexFunc"); err != nil {
		errs = append(errs, err)
	}
	if err := typed(&s.idFn, c.idFn, "ID"); err != nil {
		errs = append(errs, err)
	}
	if err := typed(&s.versionFn, c.versionFn, "Version"); err != nil {
		errs = append(errs, err)
	}
	if err := typed(&s.deleteFn, c.deleteFn, "DeleteIf"); err != nil {
		errs = append(errs, err)
	}
	if err := typed(&s.timeFn, c.timeFn, "IndexTime"); err != nil {
		errs = append(errs, err)
	}
	if s.indexFn == nil {
		if c.index == "" {
			bad("no index: use elasticsearch.Index (a name or a pattern such as \"logs-{yyyy.MM.dd}\") or IndexFunc")
		} else if p, err := parseIndex(c.index); err != nil {
			errs = append(errs, err)
		} else {
			s.pattern = p
		}
	}
	switch c.op {
	case OpIndex, OpCreate, OpUpdate, OpDelete:
	default:
		bad("operation %q: use index, create, update or delete", c.op)
	}
	if doc == nil && c.op != OpDelete {
		bad("no document function: give one (e.g. elasticsearch.JSON[T]()), or use OpDelete")
	}
	if s.idFn == nil {
		if c.op == OpUpdate || c.op == OpDelete {
			bad("operation %s needs document ids: use elasticsearch.ID", c.op)
		} else if s.deleteFn != nil {
			bad("DeleteIf needs document ids: use elasticsearch.ID")
		}
	}
	if s.versionFn != nil {
		if s.idFn == nil {
			bad("Version needs document ids: use elasticsearch.ID")
		}
		if c.op == OpUpdate || c.op == OpCreate {
			bad("Version works with operations index and delete; Elasticsearch takes no external version with %s", c.op)
		}
		if c.versionType != "external" && c.versionType != "external_gte" {
			bad("VersionType %q: use external or external_gte", c.versionType)
		}
	}
	if c.transport == nil {
		rt, err := c.httpTransport()
		if err != nil {
			errs = append(errs, err)
		}
		s.transport = rt
	} else {
		s.transport = c.transport
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", c.name, connector.ErrConfig, err)
	}
	return s, nil
}

// typed sets *dst to the function src when it has dst's type.
func typed[F any](dst *F, src any, option string) error {
	if src == nil {
		return nil
	}
	f, ok := src.(F)
	if !ok {
		return fmt.Errorf("%s is a %T, not a %T: the sink's element type differs", option, src, *dst)
	}
	*dst = f
	return nil
}

// checkURL checks a node's URL.
func checkURL(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https"):
		return fmt.Errorf("URL %q is not an http:// or https:// URL with a host", redact(u))
	case p.User != nil:
		return fmt.Errorf("URL %q carries credentials: give them with BasicAuth (in YAML username and password)", redact(u))
	}
	return nil
}

// redact removes a password from a URL for messages.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable URL)"
}

// httpTransport is net/http's default transport with the TLS options.
func (c *config) httpTransport() (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(c.concurrency, 2)
	var tc *tls.Config
	if c.tls != nil {
		tc = c.tls.Clone()
	}
	pemData := c.caPEM
	if c.caFile != "" {
		b, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pemData = append(append([]byte(nil), pemData...), b...)
	}
	if len(pemData) > 0 {
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		pool := tc.RootCAs
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemData) {
			what := "the CA certificate"
			if c.caFile != "" {
				what = "CA file " + c.caFile
			}
			return nil, fmt.Errorf("%s holds no PEM certificate: give the PEM file of the CA that signed the nodes' certificates (Elasticsearch's config/certs/http_ca.crt)", what)
		}
		tc.RootCAs = pool
	}
	t.TLSClientConfig = tc
	return t, nil
}

// client makes the Elasticsearch client of a writer. Retries are the
// writer's own (the client's are off).
func (s *Sink[T]) client() (*elasticsearch.Client, error) {
	c := &s.cfg
	user, password, apiKey, bearer := c.user, c.password, c.apiKey, c.bearer
	for _, e := range []struct {
		name string
		dst  *string
		key  string
	}{{c.env.user, &user, "username_env"}, {c.env.password, &password, "password_env"},
		{c.env.apiKey, &apiKey, "api_key_env"}, {c.env.bearer, &bearer, "bearer_token_env"}} {
		if e.name == "" {
			continue
		}
		v, ok := os.LookupEnv(e.name)
		if !ok {
			return nil, fmt.Errorf("%s: %w: environment variable %s (%s) is not set: set it to the credential", c.name, connector.ErrConfig, e.name, e.key)
		}
		*e.dst = v
	}
	return elasticsearch.NewClient(elasticsearch.Config{
		Addresses: c.urls, Username: user, Password: password, APIKey: apiKey, ServiceToken: bearer,
		Transport: s.transport, DisableRetry: true,
	})
}

// Declare implements connector.Declarer: exactly-once with checkpoints
// when every document has an id (index, update and delete operations),
// since replays then overwrite; at-least-once otherwise.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	c := &s.cfg
	id := s.idFn != nil
	if !checkpointing {
		r := "no checkpoints: documents are sent as batches fill and at the end of input; a job started over writes everything again"
		if id {
			r += " (overwriting the documents of the same ids)"
		} else {
			r += " (as new documents)"
		}
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: r}
	}
	drain := "every checkpoint barrier waits until Elasticsearch answered every bulk request sent before it (429 and 5xx items retried)"
	switch {
	case !id:
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: drain +
			"; no document id: Elasticsearch assigns one to every write, so the records written again after a restore (those after the last completed checkpoint) become second documents; give an id to make replays overwrite"}
	case c.op == OpCreate:
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: drain +
			"; op_type create with ids: a replayed document whose id exists is refused (409) and counted as written, " +
			"but a data stream checks ids only within its current backing index, so a replay after a rollover writes a second document"}
	case s.versionFn != nil:
		return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: drain + fmt.Sprintf(
			"; document ids and external versions (version_type %s): a replay after a restore overwrites the same documents, and Elasticsearch keeps the highest version whatever the order of writes (a stale replay is refused with 409, counted as written)", c.versionType)}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: drain + fmt.Sprintf(
		"; document ids with op_type %s: the records after the last completed checkpoint are written again after a restore and overwrite the same documents, in the order of the records per id; "+
			"records of one id must reach one sink subtask (key the stream by it) for the last write to be the latest record", c.op)}
}

// NewWriter implements connector.Sink.
func (s *Sink[T]) NewWriter(ctx connector.WriterContext, _ [][]byte) (connector.Writer[T], error) {
	cl, err := s.client()
	if err != nil {
		return nil, err
	}
	return newWriter(s, cl, ctx), nil
}

// build turns an element into its action.
func (s *Sink[T]) build(v T, ts int64) (*action, error) {
	c := &s.cfg
	a := &action{op: c.op}
	var err error
	if s.indexFn != nil {
		if a.index, err = s.indexFn(v); err != nil {
			return a, fmt.Errorf("index: %w", err)
		}
		if a.index == "" {
			return a, errors.New("index: empty")
		}
	} else if a.index = s.pattern.literal(); a.index == "" {
		t, err := s.time(v, ts)
		if err != nil {
			return a, err
		}
		a.index = s.pattern.format(t)
	}
	if s.idFn != nil {
		if a.id, err = s.idFn(v); err != nil {
			return a, fmt.Errorf("id: %w", err)
		}
		if a.id == "" {
			return a, errors.New("id: empty")
		}
		if len(a.id) > 512 {
			return a, fmt.Errorf("id of %d bytes: Elasticsearch takes at most 512", len(a.id))
		}
	}
	if s.deleteFn != nil {
		del, err := s.deleteFn(v)
		if err != nil {
			return a, fmt.Errorf("delete condition: %w", err)
		}
		if del {
			a.op = OpDelete
		}
	}
	var version *int64
	if s.versionFn != nil && (a.op == OpIndex || a.op == OpDelete) {
		n, err := s.versionFn(v)
		if err != nil {
			return a, fmt.Errorf("version: %w", err)
		}
		if n < 0 {
			return a, fmt.Errorf("version %d is negative", n)
		}
		version, a.versioned = &n, true
	}
	a.meta = appendMeta(nil, a.op, a.index, a.id, version, c.versionType)
	if a.op == OpDelete {
		return a, nil
	}
	doc, err := s.doc(v)
	if err != nil {
		return a, fmt.Errorf("document: %w", err)
	}
	doc = trimJSON(doc)
	if len(doc) == 0 || doc[0] != '{' {
		return a, errors.New("document: not a JSON object")
	}
	if c.op == OpUpdate {
		a.body = make([]byte, 0, len(doc)+32)
		a.body = append(a.body, `{"doc":`...)
		a.body = append(a.body, doc...)
		a.body = append(a.body, `,"doc_as_upsert":true}`...)
	} else {
		a.body = append(make([]byte, 0, len(doc)+1), doc...)
	}
	a.body = append(a.body, '\n')
	return a, nil
}

// time is the time of an element for the index pattern.
func (s *Sink[T]) time(v T, ts int64) (time.Time, error) {
	if s.timeFn != nil {
		t, err := s.timeFn(v)
		if err != nil {
			return t, fmt.Errorf("index time: %w", err)
		}
		return t, nil
	}
	if ts == math.MinInt64 {
		return time.Time{}, fmt.Errorf("the record has no event timestamp for index pattern %q: assign event time, or give the time (IndexTime; in YAML index_time)", s.cfg.index)
	}
	return time.UnixMilli(ts), nil
}

// trimJSON removes surrounding white space (a trailing newline of an
// encoder) and any newline inside: a document is one line of the body.
// Newlines in JSON are only white space between tokens (inside strings
// they are escaped), so removing them keeps the value.
func trimJSON(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != '\n' && c != '\r' {
			out = append(out, c)
		}
	}
	return out
}
