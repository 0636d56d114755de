// Package httpstream reads long-lived HTTP responses: newline-delimited
// JSON (NDJSON) and server-sent events (SSE), and the X API v2 filtered
// stream. It sits with the other connectors above package connector,
// using the standard library only.
//
// # Go
//
//	src, err := httpstream.NewSource("https://example.com/events",
//		func(e httpstream.Event) (string, error) { return string(e.Data), nil },
//		httpstream.WithFraming(httpstream.SSE), httpstream.ResumeFromLastEventID(),
//		httpstream.BearerTokenEnv("STREAM_TOKEN"))
//	stream.FromSource(env, "events", src, eventtime.NoWatermarks[string]())
//
//	x, err := httpstream.NewTwitterSource(decodePost,
//		httpstream.BearerTokenEnv("X_BEARER_TOKEN"),
//		httpstream.Rules(httpstream.Rule{Value: "cat has:images", Tag: "cats"}),
//		httpstream.Expansions("author_id"), httpstream.Fields("tweet.fields", "created_at"))
//
// decode turns an [Event] (an NDJSON line, or an SSE event's data, type
// and last event ID) into a record; its error makes the message a bad
// record (ReaderOutput.Reject: the job's dead-letter output, or the job
// fails naming the URL, the connection and the line).
//
// Options and their defaults:
//
//   - WithFraming(NDJSON | SSE): NDJSON. NDJSON lines end with LF or
//     CRLF; blank lines are keep-alives. SSE is parsed as the WHATWG HTML
//     standard says: data (several lines joined by LF), event, id, retry,
//     comments, CR/LF/CRLF line endings, a byte order mark, id-only events.
//   - Header(name, value), SecretHeader(name, secret): none.
//   - BearerToken(secret), BearerTokenEnv(name): none; the variable is read
//     when the source starts, so that building and planning need no token.
//   - ResumeFromLastEventID(): off (SSE only; see Guarantees).
//   - EventTypes(types...): all events (SSE only).
//   - KeepAlive(d): 20s, the server's keep-alive period (X's).
//   - StallTimeout(d): 3 keep-alive periods (60s): with neither data nor a
//     keep-alive for that long the connection is dropped and made again.
//     Time during which the job applies backpressure does not count.
//   - ReconnectBackoff(Backoff): XBackoff(): network errors 250ms more
//     per error in a row up to 16s; HTTP errors (5xx, 408) 5s doubling up to
//     320s; 429 (and 420) 1m doubling up to 15m, or until
//     x-rate-limit-reset (or Retry-After) when that is later, within 15m. A
//     connection that was healthy for a keep-alive period and then dropped
//     is made again at once; an SSE retry field sets the least delay.
//   - RetryTimeout(d): 30m of failing in a row; then the source fails with
//     the last error (transient: the job restarts from its last checkpoint
//     under its restart strategy, which ends the job when the failure
//     repeats).
//   - MaxMessageBytes(n): 1 MiB per line or event; a longer one is a bad
//     record.
//   - EndOnClose(): off; on, the source is bounded and ends when the server
//     ends the response cleanly.
//   - HTTPClient(c): a client of the source's own (10s connect and TLS
//     handshake, 30s for response headers, proxies from the environment).
//   - Name(name): "httpstream" ("twitter"), in bad records and logs.
//   - X only: Rules(rules...) (default: the stream's rules are left
//     alone; given, they are kept in sync when the source starts: missing
//     rules added, the others deleted), Expansions(names...),
//     Fields(param, names...) for tweet.fields, user.fields, media.fields,
//     place.fields and poll.fields, BaseURL(u) (https://api.x.com, for the
//     stream and its rules), StreamURL(u) (BaseURL +
//     /2/tweets/search/stream).
//
// # YAML
//
//	source:
//	  type: httpstream
//	  url: https://example.com/events     # required
//	  format: sse                         # ndjson (default) | sse: the framing; messages are JSON records
//	  headers: {Accept-Language: en}
//	  headers_env: {X-Api-Key: API_KEY}   # header: environment variable holding its value (a secret)
//	  bearer_token_env: STREAM_TOKEN      # Authorization: Bearer <$STREAM_TOKEN>
//	  resume: last_event_id               # none (default) | last_event_id (format: sse)
//	  events: [message]                   # SSE event types kept (default all)
//	  keep_alive: 20s
//	  stall_timeout: 1m                   # default 3 keep-alive periods
//	  retry_timeout: 30m
//	  max_message_bytes: 1048576
//	  end_on_close: false
//
//	source:
//	  type: twitter
//	  bearer_token_env: X_BEARER_TOKEN    # required
//	  rules:                              # kept in sync when the job starts (absent: left alone)
//	    - {value: "cat has:images", tag: cats}
//	    - {value: kitten}
//	  expansions: [author_id]
//	  tweet_fields: [created_at, lang]    # also user_fields, media_fields, place_fields, poll_fields
//	  base_url: https://api.x.com         # and url: the stream's URL
//	  keep_alive: 20s
//	  stall_timeout: 1m
//	  retry_timeout: 30m
//
// Every message is a JSON object (twitter: decoded by the pipeline,
// BuildContext.DecodeRecord; httpstream: format: names the framing, and
// the connector decodes the JSON as the pipeline does, numbers as int64
// or float64); a message that is not a JSON object is a bad record.
//
// # Guarantees
//
// A live stream cannot be read again: the source is at-most-once, since
// messages sent while the job restarts or reconnects are lost. One
// exception: with format: sse, resume: last_event_id
// (ResumeFromLastEventID) and checkpoints, the last event ID of the
// events emitted before a checkpoint is the split's state, sent as
// Last-Event-ID after a restore (and on every reconnect); a server that
// replays the events after that ID makes the source at-least-once (events
// without an id of their own share the previous ID and are replayed).
// The X filtered stream is at-most-once always.
//
// The source has one split (the stream), read by subtask 0 of any
// parallelism; at another parallelism after a restore it moves with its
// state. Messages are read ahead into a bounded queue (1024 messages):
// when the job applies backpressure the source stops reading, and the
// server may drop the connection (X does, for slow clients).
//
// # Failures
//
// Network errors, stalls, HTTP 5xx/408/425 and 429/420 are retried on the
// schedule above, each failure logged with its kind and the delay; after
// RetryTimeout of failing in a row the source fails (transient). The X
// stream's operational-disconnect messages ({"errors":[{"title":
// "operational-disconnect",...}]}) make the source reconnect at once;
// other error messages without data are logged and skipped, never
// records. Permanent failures end the job at once, naming the URL
// (without passwords or secret query values) and what to change: 401
// and 403 (check the token in the named variable), 404 and 410 (check
// url), other 4xx (check url, headers and parameters), a bad URL, an
// unset token variable, and X rules the API refuses (with its reasons).
// Tokens and secret headers never appear in logs, errors or plans; a
// server's error text that echoes them is masked. A stop or cancellation
// ends every wait and request at once (ReaderContext.Context).
//
// # Tests
//
// Against httptest servers: NDJSON and SSE framing (reads split anywhere,
// CRLF, lines longer than the read buffer, fuzzed parsers), the
// reconnection schedules on a fake clock (HTTP errors, 429 with
// x-rate-limit-reset, network errors and giving up), stall detection
// (and none while the job applies backpressure), Last-Event-ID on
// reconnect and after a restore, permanent statuses, the token kept out
// of errors and logs, YAML runs (dead letters, secret headers), and the
// conformance suite (connectortest) for the at-least-once SSE
// configuration, bounded and live (a server that replays from
// Last-Event-ID, living in the test process, also for the SIGKILL
// check: SLUICE_TORTURE=long makes 100 kills), and the at-most-once
// NDJSON one. The X filtered stream is
// tested against a stand-in of its stream and rules endpoints: CRLF
// framing, keep-alives, operational-disconnect messages, 429 with
// x-rate-limit-reset, rules added and deleted, rejected rules, 401.
package httpstream
