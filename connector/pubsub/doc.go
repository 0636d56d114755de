// Package pubsub is sluice's Google Cloud Pub/Sub connector: a source
// that is at-least-once with checkpoints (exactly-once with deduplication
// by message id) and a sink that is at-least-once. It implements the
// contracts of package connector and knows nothing of the runtime.
//
//	src, err := pubsub.NewSource(pubsub.JSON[Order](),
//		pubsub.Project("shop"), pubsub.Subscription("orders-job"),
//		pubsub.ExpectCheckpoints(10*time.Second, time.Minute))
//	orders := stream.FromSource(env, "orders", src, eventtime.BoundedOutOfOrderness[Order](5*time.Second))
//
//	snk, err := pubsub.NewSink(pubsub.JSONSerializer(func(t Total) string { return t.Customer }),
//		pubsub.Project("shop"), pubsub.Topic("totals"))
//	totals.SinkTo("totals", snk)
//
// # Source
//
// Every source subtask pulls from the subscription (unary Pull requests of
// up to MaxPullMessages) on a goroutine of its own; Pub/Sub spreads the
// messages over the subtasks, so the source has no splits and runs at any
// parallelism. A record carries its message's publish time as event time.
// Messages are decoded by a Decoder (Messages, Bytes, String, JSON[T],
// DataDecoder); one that does not decode is rejected with its location
// "projects/<p>/subscriptions/<s> message <id>" to the job's dead-letter
// output (and acknowledged with the checkpoint, like any emitted message),
// or fails the job.
//
// Acknowledgements. A message is acknowledged only after it was emitted
// and the checkpoint whose snapshot followed its emission completed
// (connector.Reader's contract): received messages wait in the reader,
// emitted ones are tagged with the next snapshot's checkpoint, and
// NotifyCheckpointComplete(n) acknowledges everything tagged up to n
// (completion is subsuming; an aborted checkpoint's messages go with the
// next one). The ack ids still to acknowledge at a snapshot are the
// reader's checkpoint state (connector.StatefulReader): a job restored
// from checkpoint n, which means n completed, acknowledges them when it
// starts, so a failure between completion and notification does not
// deliver those messages again. Until acknowledged, the deadlines of held
// messages are extended (ModifyAckDeadline to AckDeadline every third of
// it) for at most MaxExtension; a message held longer is given up and
// Pub/Sub redelivers it (a duplicate, never a loss). NewSource refuses a
// MaxExtension shorter than the checkpoint interval plus the checkpoint
// timeout (ExpectCheckpoints; in YAML the job's checkpoints: settings),
// with the numbers. Ack ids are valid for the whole subscription, so the
// restored state may go to any subtask (rescaling needs nothing more).
// Pub/Sub cannot replay acknowledged messages: restoring a checkpoint
// older than the latest (or a savepoint) does not bring back what was
// acknowledged after it, unless the subscription is first sought back
// (gcloud pubsub subscriptions seek --time, or to a Pub/Sub snapshot).
// When the source closes in an orderly way it hands the
// messages no snapshot holds back to Pub/Sub (a deadline of 0), so they are
// redelivered at once; after a crash they come back when their deadline
// runs out.
//
// Backpressure. MaxOutstandingMessages (default 10000) bounds the messages
// a subtask holds unacknowledged, emitted or not: at the limit it stops
// pulling until a checkpoint completes. A subtask's throughput is thus at
// most about that many messages per checkpoint interval; raise it with the
// interval. MaxOutstandingBytes (default 64 MiB) bounds the data received
// and not yet emitted.
//
// Exactly-once delivery subscriptions. On a subscription with Pub/Sub's
// exactly-once delivery, acknowledgements and deadline extensions are
// confirmed per ack id (what the client library's AckWithResult reports;
// the connector reads the same per-ack-id results from the response): a
// temporary failure is retried; an ack id refused as expired
// (PERMANENT_FAILURE_INVALID_ACK_ID, because the deadline ran out before
// the checkpoint completed) means Pub/Sub redelivers the message, which is
// counted and logged, and which deduplication by message id drops. Such a
// subscription needs no option: the connector behaves the same on both
// kinds.
//
// Exactly-once. The source is at-least-once: a failure redelivers what was
// not acknowledged, and Pub/Sub itself may deliver a message more than
// once. Every delivery of a message has the same message id, so dropping
// repeated ids after the source gives exactly-once at any parallelism: in
// Go,
//
//	msgs := stream.FromSource(env, "orders", src, ws) // src of pubsub.Messages()
//	unique := stream.Deduplicate(msgs, func(m pubsub.Message) string { return m.ID }, 2*time.Hour)
//
// (the job's declared guarantee still shows the source's at-least-once),
// and in YAML dedupe_by_id: true, for which the pipeline adds that stage
// and the source declares exactly-once. The ids are keyed state, in
// checkpoints, and forgotten after the horizon, which must exceed the
// longest time between a message's first delivery and its last
// redelivery: MaxExtension plus AckDeadline (checked), and the checkpoint
// interval and timeout with the restart delays.
//
// Without checkpoints nothing would acknowledge the messages: give
// AckOnReceipt, which acknowledges each message when it is received,
// before its record is processed, and emits only what Pub/Sub accepted:
// at-most-once (YAML jobs without checkpoints do this by themselves, as do
// Go jobs once the runtime tells readers whether the job checkpoints).
// EndWhenIdle makes the source end after a time without messages
// (backfills, tests).
//
// # Sink
//
// The sink publishes with the client library's publisher, message
// ordering on (messages with one ordering key are published in order),
// batching by Batching (10ms or 100 messages), at most
// MaxOutstandingPublishes (1000) unconfirmed per subtask, writing blocking
// beyond. Flush, on every checkpoint barrier and at the end, returns only
// when Pub/Sub confirmed every message published before: at-least-once. A
// restore publishes what came after the checkpoint again, as new messages
// with new ids. A Serializer makes the message (data, attributes, ordering
// key): StringSerializer, BytesSerializer, JSONSerializer.
//
// # Connection and credentials
//
// Project names the Google Cloud project (required; a full name
// projects/<p>/subscriptions/<s> or projects/<p>/topics/<t> names it too).
// Credentials are Google's application default credentials
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, or the metadata server), or
// a service account key file with CredentialsFile; ClientOptions passes any
// other option of Google's API clients (a regional endpoint, other
// credentials). Endpoint, or the environment variable
// PUBSUB_EMULATOR_HOST, connects to an emulator in plaintext without
// credentials. Messages and logs name the credentials file, never its
// contents.
//
// # Failures
//
// A subscription or topic that does not exist, credentials refused or
// lacking a permission (roles/pubsub.subscriber for the source,
// roles/pubsub.publisher for the sink), or a request Pub/Sub calls invalid
// fail the job permanently (connector.ErrRejected), naming the
// subscription or topic and what to change; options that cannot work are
// connector.ErrConfig. Transient failures are retried by the client
// library and then by the connector: pulls three times within 30s each,
// after which the job restarts from its checkpoint; acknowledgements six
// times with backoff, after which they are given up (the messages are
// redelivered); deadline extensions at the next extension; publishes
// within PublishTimeout (60s), after which Flush fails and the job
// restarts. Close and the end of the job attempt's context end every
// goroutine of the reader; Close lets queued acknowledgements go out for
// up to 5s unless the attempt failed.
//
// # YAML
//
//	source:
//	  type: pubsub
//	  project: ${PUBSUB_PROJECT}        # required
//	  subscription: orders              # required: id or full name
//	  endpoint: localhost:8085          # emulator (default: PUBSUB_EMULATOR_HOST, else Google)
//	  credentials_file: key.json        # default: application default credentials
//	  format: json                      # json (default) or text
//	  dedupe_by_id: true                # exactly-once by message id (default false)
//	  dedupe_horizon: 2h                # default 2h; > max_extension + ack_deadline
//	  max_outstanding_messages: 10000
//	  max_outstanding_bytes: 67108864
//	  ack_deadline: 30s                 # whole seconds, 1s to 10m
//	  max_extension: 1h                 # >= checkpoint interval + timeout
//	  ack_on_receipt: false             # at-most-once (implied without checkpoints)
//	  end_when_idle: 0s                 # end after this long without messages
//
//	sink:
//	  type: pubsub
//	  project: ${PUBSUB_PROJECT}        # required
//	  topic: totals                     # required: id or full name
//	  endpoint: localhost:8085
//	  credentials_file: key.json
//	  ordering_key: customer            # an expression over the record (CEL)
//	  attributes: [region]              # fields published as attributes too
//	  publish_timeout: 60s
//	  max_outstanding_messages: 1000
//
// The sink publishes each record as JSON. With dedupe_by_id the source adds
// the message id to each record as the field __pubsub_message_id, by which
// the pipeline's deduplication stage routes it, and which it removes after.
// See examples/pubsub.yaml.
//
// # Tests
//
// The tests run against pstest, the Pub/Sub fake of Google's client
// library (a test double of the service speaking its gRPC API on a
// loopback port; no Pub/Sub emulator or Google Cloud is needed). The
// SIGKILL torture tests run the job in child processes that connect to
// the fake in the test process, and check the output record by record:
// every message at least once from the plain source, exactly once with
// deduplication by message id, every record at least once from the sink.
// Other tests check that nothing is acknowledged before the checkpoint
// after a record's emission completes, that deadlines are extended and
// given up at MaxExtension, that a restore acknowledges the checkpoint's
// ack ids, the per-ack-id results of exactly-once delivery (injected),
// refusals and transient failures; the package passes the connector
// conformance suite (connectortest). cmd fakepubsub
// (internal/fakepubsub) serves the fake for trying jobs by hand.
package pubsub
