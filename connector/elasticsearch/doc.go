// Package elasticsearch is sluice's Elasticsearch sink: documents written
// in bulk requests with the official Go client (go-elasticsearch v8),
// at-least-once, and exactly-once when every document has an id that a
// replay repeats. It implements the contracts of package connector and
// knows nothing of the runtime.
//
//	snk, err := elasticsearch.NewSink(elasticsearch.JSON[Order](),
//		elasticsearch.URLs("https://localhost:9200"),
//		elasticsearch.Index("orders-{yyyy.MM.dd}"),
//		elasticsearch.ID(func(o Order) (string, error) { return o.ID, nil }),
//		elasticsearch.BasicAuth("elastic", os.Getenv("ES_PASSWORD")),
//		elasticsearch.CAFile("http_ca.crt"))
//	orders.SinkTo("orders", snk)
//
// In YAML pipelines (type: elasticsearch; examples/elasticsearch.yaml):
//
//	sink:
//	  type: elasticsearch
//	  urls: https://localhost:9200      # comma-separated or a list
//	  index: orders-{yyyy.MM.dd}        # or index_expr: '"orders-" + region'
//	  index_time: created               # default: the record's event time
//	  id: order_id                      # CEL over the record
//	  op_type: index                    # index, create, update or delete
//	  delete_if: status == "deleted"
//	  version: revision                 # external versioning
//	  username: elastic
//	  password_env: ES_PASSWORD         # or password: ${ES_PASSWORD}
//	  ca_file: http_ca.crt
//	  max_inflight_bytes: 33554432
//
// # Writing
//
// Every element becomes one bulk action: its document (the JSON object
// the document function returns; in YAML the record), its index, and,
// with ID, its _id. Actions go into lanes by document id (Concurrency,
// default 2); each lane has at most one bulk request in flight, holding
// up to BatchActions actions (1000) or BatchBytes (5 MiB). A lane sends
// its batch when it is full, when a Write finds its oldest action older
// than FlushInterval (1s), and on every checkpoint barrier: Flush sends
// everything and returns only when Elasticsearch answered every request,
// retries included. A writer holds at most MaxInflightBytes (32 MiB) of
// actions, queued, in flight or waiting to be retried; Write blocks at
// that bound.
//
// The items of a response are judged one by one. 200 and 201 are written;
// so are a delete of a document (or index) that is not there, a 409 of
// an action with an external version (the stored document has that
// version or a newer one), and a 409 of create with an id (the document
// exists: an earlier attempt wrote it). 429 and 5xx items, and whole
// requests that fail with a connection error, a timeout, 408, 429 or
// 5xx, are sent again, only they, after a backoff (doubling from 100ms
// to 10s, with jitter), at most 8 times (Retries); then the
// writer fails with a transient error and the job restarts from its latest
// checkpoint. A lane sends the actions it retries before any action queued
// after them, and a batch never holds two actions of the same id (without
// external versions): a later index or delete of an id replaces an
// earlier one in the batch, any other repeat waits for the next request.
// So the writes of one id reach Elasticsearch in the order of the
// elements, across retries, and the last one stays.
//
// Everything else fails the job at once (permanent, a RejectedError): a
// document whose field conflicts with the index's mapping
// (document_parsing_exception; wraps connector.ErrBadRecord), an index
// that does not exist when the cluster does not create indices
// (index_not_found_exception), a write the user may not make (403), an
// invalid index name (these wrap connector.ErrRejected). The message names
// the index, the document id, Elasticsearch's error type and reason and
// what to change. So does a refusal of the whole request: 401
// (credentials), 403 (privileges), 413 (lower BatchBytes), a certificate
// the CA file does not vouch for, a server that is not Elasticsearch. An
// element the sink cannot make into an action (no event time for a time
// pattern, an empty id, a document that is not a JSON object) fails the
// job as a bad record.
//
// The runtime has no dead-letter output for sinks (ReaderOutput.Reject is
// a source's). A writer context that offers one, with a method
// Reject(connector.BadRecord) error, gets the documents Elasticsearch
// refused as bad records (location index/_doc/id, the document, the
// reason) and the job goes on; refusals of the configuration (missing
// index, privileges) still fail it.
//
// # Guarantees
//
// Exactly-once with checkpoints when every document has an id
// (ID; in YAML id:) and the operation is index (the default), update
// (a partial document merged with doc_as_upsert, retry_on_conflict 3; a
// 409 after that is retried like a 429) or delete: the elements
// after the last completed checkpoint are written again after a restore
// and overwrite the same documents, in the same order per id. Records of
// one id must reach one sink subtask (key the stream by the id, as an
// aggregation does), or the order of two subtasks' writes decides which
// stays. With Version (version_type external or external_gte) the order
// does not matter: Elasticsearch keeps the highest version and refuses
// older ones with 409, which count as written.
//
// At-least-once without ids (Elasticsearch assigns one to every write, so
// replayed elements become second documents), with op_type create (data
// streams: a replayed create of an existing id is refused with 409 and
// counts as written, but a data stream checks ids only within its current
// backing index, so a replay after a rollover writes a second document),
// and in jobs without checkpoints. Sink.Declare says which, and why, for
// `sluice plan`.
//
// # Indices
//
// Index is a name or a pattern whose parts in braces format the
// document's time in UTC (yyyy, yy, MM, dd, HH, mm, ss): "logs-{yyyy.MM.dd}"
// gives daily indices. The time is the element's event timestamp, or
// IndexTime's (YAML index_time: an RFC 3339 string or epoch milliseconds);
// an element without one fails the job rather than land in another index
// on replay. IndexFunc (YAML index_expr) gives any index per element.
// DeleteIf (YAML delete_if) deletes the documents of the elements it
// marks, as a change stream needs.
//
// # Connections and security
//
// URLs lists the nodes, used in turn; a URL must not carry credentials.
// BasicAuth, APIKey (the base64 "encoded" key) and BearerToken (service
// account or OAuth2 token) authenticate; in YAML username/password,
// api_key and bearer_token, as literals (password: ${ES_PASSWORD}) or
// read from the environment when the job starts (password_env,
// api_key_env, bearer_token_env, username_env). Credentials are
// connector.Secret in configurations and never appear in messages. CAFile
// (ca_file) trusts the CA of https nodes; TLS and Transport set the rest.
//
// Versions: the client is go-elasticsearch v8, whose _bulk requests
// Elasticsearch 8 and 9 both take (the bulk API did not change in 9).
// The client refuses any server whose successful responses lack the
// header X-Elastic-Product: Elasticsearch, which Elasticsearch sends since
// 7.14 and OpenSearch does not: OpenSearch cannot be used with this sink
// (the job fails at the first response, permanently, saying so). That is
// what the client requires; the sink's requests are otherwise plain _bulk
// requests that OpenSearch's API also has.
//
// # How it is tested
//
// No Elasticsearch server can be had on the machines the project is
// tested on. The tests run against estest, a protocol-level stand-in of
// the _bulk endpoint in this module (connector/elasticsearch/estest): NDJSON
// parsing of the four actions and their metadata, per-item statuses in
// request order, injected 429 and 5xx items and requests, mapping
// conflicts, version conflicts, data streams, missing indices,
// authentication, TLS and the product header, over an in-memory store. Its
// own tests drive it with the official client's esutil.BulkIndexer. The
// SIGKILL torture test (torture_test.go, internal/crashtest) kills a job
// with four sinks on the stand-in again and again while 2.5% of the items
// fail with 429 or 503, then checks every document: with ids each exactly
// once with its final value (per-record documents in daily indices, and
// running counts per key with and without external versions), without
// ids every record at least once and nothing else. The stand-in's NDJSON
// parser and the sink's response parser are fuzzed. Behaviour of a real
// cluster that the stand-in does not model (shards, refresh, ingest
// pipelines, aliases, rollovers) is not tested here.
package elasticsearch
