package elasticsearch

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"
)

// Op is the bulk action the sink writes documents with.
type Op string

// The operations.
const (
	// OpIndex adds or replaces the document (the default).
	OpIndex Op = "index"
	// OpCreate adds the document and fails if its id exists; the only
	// operation data streams take.
	OpCreate Op = "create"
	// OpUpdate merges the document into the stored one, adding it when
	// there is none (doc_as_upsert).
	OpUpdate Op = "update"
	// OpDelete deletes the document with the element's id.
	OpDelete Op = "delete"
)

// Defaults of the options.
const (
	DefaultBatchBytes       = 5 << 20
	DefaultBatchActions     = 1000
	DefaultMaxInflightBytes = 32 << 20
	DefaultConcurrency      = 2
	DefaultFlushInterval    = time.Second
	DefaultMaxRetries       = 8
	DefaultRetryBackoff     = 100 * time.Millisecond
	DefaultMaxRetryBackoff  = 10 * time.Second
	DefaultRequestTimeout   = time.Minute
	// DefaultRetryOnConflict is the retry_on_conflict of update actions.
	DefaultRetryOnConflict = 3
)

// Option configures a Sink.
type Option interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

// config holds the options; the functions of the generic options are kept
// as any and checked against the sink's element type by NewSink.
type config struct {
	urls        []string
	index       string
	indexFn     any // func(T) (string, error)
	idFn        any // func(T) (string, error)
	versionFn   any // func(T) (int64, error)
	deleteFn    any // func(T) (bool, error)
	timeFn      any // func(T) (time.Time, error)
	versionType string
	op          Op

	user, password string
	apiKey         string
	bearer         string
	env            envCreds
	caFile         string
	caPEM          []byte
	tls            *tls.Config
	transport      http.RoundTripper

	batchBytes, batchActions int
	maxInflight              int64
	concurrency              int
	flushInterval            time.Duration
	maxRetries               int
	backoff, maxBackoff      time.Duration
	requestTimeout           time.Duration
	name                     string
}

// envCreds are credentials read from the environment when a writer opens
// (the *_env keys of YAML pipelines).
type envCreds struct{ user, password, apiKey, bearer string }

func defaults() config {
	return config{op: OpIndex, versionType: "external",
		batchBytes: DefaultBatchBytes, batchActions: DefaultBatchActions, maxInflight: DefaultMaxInflightBytes,
		concurrency: DefaultConcurrency, flushInterval: DefaultFlushInterval, maxRetries: DefaultMaxRetries,
		backoff: DefaultRetryBackoff, maxBackoff: DefaultMaxRetryBackoff, requestTimeout: DefaultRequestTimeout,
		name: "elasticsearch sink"}
}

// URLs sets the nodes to send requests to ("https://host:9200"), used in
// turn. Required. A URL must not carry a user name or password (use
// BasicAuth).
func URLs(urls ...string) Option {
	return optFunc(func(c *config) { c.urls = append(c.urls, urls...) })
}

// Index sets the index (or data stream, or alias) of every document, as a
// name or a time pattern: the parts in braces are formats of the
// document's time in UTC, with yyyy, yy, MM, dd, HH, mm and ss, e.g.
// "logs-{yyyy.MM.dd}" for daily indices. The time is the element's event
// timestamp unless IndexTime gives another; an element without one fails
// the job, so that a replay never writes a document to another index than
// its first attempt did. Required unless IndexFunc is given.
func Index(pattern string) Option { return optFunc(func(c *config) { c.index = pattern }) }

// IndexFunc sets a function giving each element's index; it overrides
// Index. Its result must be the same for an element when it is replayed.
func IndexFunc[T any](fn func(v T) (string, error)) Option {
	return optFunc(func(c *config) { c.indexFn = fn })
}

// IndexTime sets the time an Index pattern formats (default: the
// element's event timestamp).
func IndexTime[T any](fn func(v T) (time.Time, error)) Option {
	return optFunc(func(c *config) { c.timeFn = fn })
}

// ID sets the function that gives each element's document _id. With
// deterministic ids (the same element gives the same id when replayed)
// replays overwrite what was written before, and the sink is exactly-once
// for OpIndex and OpUpdate (see Sink.Declare). Without ID Elasticsearch
// assigns ids, and every replayed element is a new document
// (at-least-once). OpUpdate and OpDelete need it.
func ID[T any](fn func(v T) (string, error)) Option {
	return optFunc(func(c *config) { c.idFn = fn })
}

// Version sets the function giving each element's external version
// (version_type external, or external_gte with VersionType): Elasticsearch
// keeps the document with the highest version, whatever the order in
// which writes arrive, and refuses an older or equal one with 409, which
// the sink counts as written (a newer or the same document is stored).
// Only for OpIndex and OpDelete, with ID.
func Version[T any](fn func(v T) (int64, error)) Option {
	return optFunc(func(c *config) { c.versionFn = fn })
}

// VersionType sets the version type of Version: "external" (default: a
// write needs a version above the stored one) or "external_gte" (at or
// above).
func VersionType(t string) Option { return optFunc(func(c *config) { c.versionType = t }) }

// Operation sets the bulk action (default OpIndex).
func Operation(op Op) Option { return optFunc(func(c *config) { c.op = op }) }

// DeleteIf sets a function that marks elements whose document is to be
// deleted (by ID) instead of written with the sink's operation, as a
// change stream needs.
func DeleteIf[T any](fn func(v T) (bool, error)) Option {
	return optFunc(func(c *config) { c.deleteFn = fn })
}

// BasicAuth authenticates with a user name and password (HTTP basic).
func BasicAuth(user, password string) Option {
	return optFunc(func(c *config) { c.user, c.password = user, password })
}

// APIKey authenticates with an API key: the base64 "id:api_key" encoding
// that Elasticsearch returns as "encoded".
func APIKey(key string) Option { return optFunc(func(c *config) { c.apiKey = key }) }

// BearerToken authenticates with a bearer token (a service account token
// or an OAuth2 access token).
func BearerToken(token string) Option { return optFunc(func(c *config) { c.bearer = token }) }

// CAFile trusts the PEM CA certificate(s) in path for https URLs, instead
// of the system's. The file is read when the sink is made.
func CAFile(path string) Option { return optFunc(func(c *config) { c.caFile = path }) }

// CACert trusts the PEM CA certificate(s) given, instead of the system's.
func CACert(pem []byte) Option { return optFunc(func(c *config) { c.caPEM = pem }) }

// TLS sets the TLS configuration of https connections (client
// certificates, server name); CAFile and CACert add to its RootCAs.
func TLS(cfg *tls.Config) Option { return optFunc(func(c *config) { c.tls = cfg }) }

// Transport sets the HTTP transport (default: one of net/http's with the
// TLS options). It takes over TLS: CAFile, CACert and TLS are then
// ignored.
func Transport(rt http.RoundTripper) Option { return optFunc(func(c *config) { c.transport = rt }) }

// BatchBytes sets the size above which a bulk request is sent (default
// DefaultBatchBytes, 5 MiB; Elasticsearch refuses requests above
// http.max_content_length, 100 MB by default).
func BatchBytes(n int) Option { return optFunc(func(c *config) { c.batchBytes = n }) }

// BatchActions sets the number of actions above which a bulk request is
// sent (default DefaultBatchActions, 1000).
func BatchActions(n int) Option { return optFunc(func(c *config) { c.batchActions = n }) }

// MaxInflightBytes bounds the bytes of actions a writer holds: waiting
// for a batch, in requests not yet answered, or waiting to be retried
// (default DefaultMaxInflightBytes, 32 MiB). Write blocks at the bound
// until requests are answered; a single action larger than the bound is
// sent alone.
func MaxInflightBytes(n int64) Option { return optFunc(func(c *config) { c.maxInflight = n }) }

// Concurrency sets how many bulk requests a writer has in flight at once
// (default DefaultConcurrency, 2). Documents are spread over that many
// lanes by their id, each with one request at a time, so that the writes
// of one id reach Elasticsearch in the order of the elements, retries
// included.
func Concurrency(n int) Option { return optFunc(func(c *config) { c.concurrency = n }) }

// FlushInterval sets how old the oldest action of a batch may get before
// a Write sends the batch though it is not full (default
// DefaultFlushInterval, 1s). Every checkpoint barrier and the end of the
// input send everything, whatever its age.
func FlushInterval(d time.Duration) Option { return optFunc(func(c *config) { c.flushInterval = d }) }

// Retries sets how often an action that failed with a transient status
// (429, 5xx) or whose request failed (connection, timeout, 429 or 5xx for
// the whole request) is sent again before the writer fails (default
// DefaultMaxRetries, 8), and the backoff: base doubled after each failure
// up to limit (defaults 100ms and 10s), with jitter.
func Retries(n int, base, limit time.Duration) Option {
	return optFunc(func(c *config) { c.maxRetries, c.backoff, c.maxBackoff = n, base, limit })
}

// RequestTimeout bounds one bulk request (default DefaultRequestTimeout,
// 1m); a request that times out is retried.
func RequestTimeout(d time.Duration) Option { return optFunc(func(c *config) { c.requestTimeout = d }) }

// Name sets the name of the sink in messages (default "elasticsearch
// sink").
func Name(name string) Option { return optFunc(func(c *config) { c.name = name }) }

// fromEnv sets credentials read from the environment variables named, when
// a writer opens (empty names: none).
func fromEnv(user, password, apiKey, bearer string) Option {
	return optFunc(func(c *config) { c.env = envCreds{user, password, apiKey, bearer} })
}

func (c *config) check() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.batchBytes < 1 {
		bad("BatchBytes %d must be positive", c.batchBytes)
	}
	if c.batchActions < 1 {
		bad("BatchActions %d must be positive", c.batchActions)
	}
	if c.maxInflight < 1 {
		bad("MaxInflightBytes %d must be positive", c.maxInflight)
	}
	if c.concurrency < 1 || c.concurrency > 64 {
		bad("Concurrency %d must be between 1 and 64", c.concurrency)
	}
	if c.flushInterval < 0 {
		bad("FlushInterval %v is negative", c.flushInterval)
	}
	if c.maxRetries < 0 || c.backoff < 0 || c.maxBackoff < c.backoff {
		bad("Retries(%d, %v, %v): the count must not be negative, and the limit not below the base", c.maxRetries, c.backoff, c.maxBackoff)
	}
	if c.requestTimeout <= 0 {
		bad("RequestTimeout %v must be positive", c.requestTimeout)
	}
	return errs
}
