// Package rabbitmq is sluice's RabbitMQ connector: a source of queue
// messages (AMQP 0-9-1, classic and quorum queues) and a sink publishing
// to an exchange with publisher confirms. It sits with the other
// connectors above package connector and knows nothing of the runtime.
//
// # Source
//
// Every reader (source subtask) is a consumer of the queue; the broker
// spreads the messages over them. The guarantee depends on the
// configuration:
//
//   - AutoAck (YAML: a job without checkpoints): the broker forgets a
//     message when it is delivered: at-most-once.
//   - Default, with checkpoints: a reader keeps the delivery tags of the
//     messages it emitted, per checkpoint, and acknowledges them (one
//     multiple ack) only when the checkpoint holding the messages'
//     effects completes (connector.CheckpointListener); completion of a
//     checkpoint covers the ones before it, and an aborted checkpoint's
//     messages are acknowledged with the next one that completes. After a
//     failure (or a lost connection) the broker delivers the
//     unacknowledged messages again: at-least-once.
//   - DedupeBy(CorrelationID or MessageID), with checkpoints: exactly-once.
//     Every message must carry the id; one without it is a bad record
//     (ReaderOutput.Reject: the job's dead-letter output, or the job fails
//     permanently, naming the queue, the delivery and the property to set).
//     Two ways to drop the redelivered copies:
//     — in the reader's state (Flink's way): the ids of the messages not
//     known to be acknowledged go into checkpoints (connector.StatefulReader);
//     an id is dropped once its acknowledgement is confirmed by a round trip
//     on the channel, and restored ids whose messages never come again
//     expire after DedupeHorizon (default 10m). This only holds at
//     parallelism 1, where every redelivery reaches the reader with the
//     ids: a reader at parallelism > 1 refuses to start (ErrConfig);
//     — KeyedDedupe(horizon): the records carry the id (Message.ID) to a
//     keyed stage after the source, stream.Deduplicate, which holds the
//     ids seen within horizon as keyed state; several consumers of one
//     queue (any parallelism) stay exactly-once. YAML pipelines do this by
//     themselves (connector.Deduplicated): with dedupe_by the source adds
//     the id as field _rabbitmq_id, the pipeline routes the records by it
//     through the stage and removes the field. The horizon must exceed
//     the longest time from a message's first delivery to its last
//     redelivery: a checkpoint interval and timeout, the restart delays,
//     and the broker's noticing a dead connection (two heartbeats).
//
// `sluice plan` shows the declared guarantee with its condition.
//
// Go:
//
//	src, err := rabbitmq.NewSource(rabbitmq.Messages(),
//		rabbitmq.URL("amqp://user:pw@host:5672/vhost"), rabbitmq.Queue("orders"),
//		rabbitmq.DedupeBy(rabbitmq.CorrelationID), rabbitmq.KeyedDedupe(10*time.Minute),
//		rabbitmq.ExpectCheckpoints(10*time.Second, time.Minute))
//	s := stream.FromSource(env, "orders", src, eventtime.NoWatermarks[rabbitmq.Message]())
//	s = stream.Deduplicate(s, func(m rabbitmq.Message) string { return m.ID }, 10*time.Minute)
//
// YAML:
//
//	source:
//	  type: rabbitmq
//	  url: ${RABBITMQ_URL}        # default: $RABBITMQ_URL, else amqp://localhost:5672/
//	  queue: orders               # required
//	  prefetch: 20000             # default: 2 x expected_rate x checkpoint interval, 100..65535
//	  expected_rate: 1000         # messages per second per reader (default 1000)
//	  dedupe_by: correlation_id   # or message_id; absent: at-least-once
//	  dedupe_horizon: 10m         # default 10m
//	  heartbeat: 10s              # default 10s
//	  format: json                # or text
//	  tls: {ca_file: ca.pem}      # or true; amqps:// URLs turn TLS on
//
// Options and their defaults: URL (RABBITMQ_URL, else
// amqp://localhost:5672/; a URL without credentials takes
// RABBITMQ_USERNAME and RABBITMQ_PASSWORD), TLS (amqps:// URLs: the
// system's CAs), Heartbeat (10s), Reconnect (100ms doubling to 5s, 10
// attempts in a row), Queue (required), Prefetch (below), ExpectedRate
// (1000/s), ExpectCheckpoints (10s assumed), AutoAck (off), DedupeBy (none),
// KeyedDedupe (off), DedupeHorizon (10m), ConsumerTag ("sluice").
// Credentials never appear in logs, errors or plans (the YAML url is a
// connector.Secret; URLs are shown redacted).
//
// # Prefetch and backpressure
//
// Prefetch is basic.qos: the most messages a reader holds delivered and
// unacknowledged. Since acknowledgements wait for checkpoints, a reader
// holds everything it read since the last completed checkpoint: size
// prefetch to at least rate × (checkpoint interval + checkpoint duration),
// per reader. Too small, and the reader waits for the next completed
// checkpoint each time it has read prefetch messages, so its throughput
// is at most prefetch per checkpoint interval; that wait is also the
// source's backpressure, as the broker sends no more until
// acknowledgements are sent. The default is twice ExpectedRate times the
// checkpoint interval (YAML: the job's), between 100 and 65535 (the
// protocol's bound: beyond 65535 messages per checkpoint interval, add
// readers or checkpoint more often). Auto-acknowledged deliveries are not
// bounded by prefetch but by the reader's buffer (4096 messages).
//
// # consumer_timeout
//
// The broker closes a channel whose oldest delivery stays unacknowledged
// longer than its consumer_timeout (30 minutes by default) with
// PRECONDITION_FAILED. The reader recognizes it and fails with a message
// naming consumer_timeout, the timeout the broker reported and the
// checkpoint interval: permanently when the checkpoint interval plus
// timeout (ExpectCheckpoints) reach the broker's timeout (it would happen
// at every checkpoint), otherwise as a transient failure (a checkpoint
// took unusually long). Set consumer_timeout above the checkpoint
// interval plus the checkpoint timeout: in rabbitmq.conf
// (consumer_timeout = 3600000), or from RabbitMQ 3.12 per queue with the
// x-consumer-timeout argument or a consumer-timeout policy (3.10, which
// the tests run against, has only the node-wide setting).
//
// # Failures
//
// Refused credentials, missing permissions, a missing queue or exchange
// and invalid arguments are permanent (connector.ErrRejected), naming what
// to change. A lost connection or channel is reconnected with backoff;
// messages of the lost channel are delivered again by the broker (and
// dropped as copies with DedupeBy); after the attempts allowed the error
// goes to the job, which restarts from its checkpoint. A message the
// deserializer refuses is a bad record (dead-letter output, or the job
// fails naming the queue and delivery). Close and the reader's context
// end every goroutine; unacknowledged messages return to the queue.
//
// # RabbitMQ streams
//
// Queues of type stream are read as a second mode, NewStreamSource, over
// the stream protocol (port 5552, plugin rabbitmq_stream, which
// scripts/rabbitmq-up enables): each stream is a split whose state is the
// offset of its next message, so the source is exactly-once with
// checkpoints at any parallelism without ids, and acknowledges nothing
// (the broker keeps a stream's messages by its retention, whoever read
// them). Streams go to readers by their position in Streams modulo the
// parallelism; a restore at another parallelism moves them with their
// offsets. Without checkpoints a stream starts at its first message
// (at-least-once on restart) or, with StartAtNext, at the next one
// (at-most-once). A consumer closed by the broker (a deleted stream, a
// lost connection) fails the reader; the job restarts from its
// checkpoint. Options: StreamURL (RABBITMQ_STREAM_URL, else
// rabbitmq-stream://localhost:5552/, credentials as for URL), Streams
// (required), StartAtNext.
//
//	source:
//	  type: rabbitmq
//	  url: rabbitmq-stream://guest:guest@localhost:5552/
//	  streams: [events-0, events-1]
//	  start: first                # or next
//	  format: json
//
// # Sink
//
// The sink publishes each record (Serializer: body, routing key, ids,
// headers) to Exchange (default "", the default exchange) with RoutingKey,
// persistent (delivery mode 2), on a channel in confirm mode. Every
// checkpoint barrier (Flush) waits until the broker confirmed every
// message published before, so a completed checkpoint means its messages
// are with the broker: at-least-once with checkpoints; after a failure the
// messages since the last checkpoint are published again. Messages are
// mandatory: one the broker returns as unroutable fails the job
// (permanent, naming exchange and routing key) unless Unroutable() (YAML
// mandatory: false). A nack or a lost connection fails the job, which
// restarts from its checkpoint (the sink does not reconnect by itself).
// MaxInFlight (default 4096) bounds unconfirmed messages.
//
//	sink:
//	  type: rabbitmq
//	  url: ${RABBITMQ_URL}
//	  exchange: events            # default "": the default exchange
//	  routing_key: kind           # a field or CEL expression; a constant: '"orders"'
//	  message_id: id              # optional, likewise correlation_id
//	  mandatory: true             # default true
//	  max_in_flight: 4096
//
// # Tests
//
// The tests run against the RabbitMQ server on this machine (3.10,
// 127.0.0.1:5672, guest/guest; scripts/rabbitmq-up starts it), a queue of
// their own per test, deleted afterwards; without a server they are
// skipped (failed when CI is set). They check acknowledgement timing
// (nothing acknowledged before the checkpoint completes, classic and
// quorum queues), redelivery, deduplication after a restore and after a
// reconnect (the broker closing the connection), prefetch bounding the
// unacknowledged messages, the consumer_timeout failure (lowering the
// node's consumer_timeout and channel tick for the test's channel through
// rabbitmqctl eval), missing ids, missing queues and refused credentials;
// SIGKILL torture (internal/crashtest, TxFileSink as the target, output
// checked record by record) of at-least-once at parallelism 2,
// exactly-once by ids in reader state at parallelism 1, exactly-once by
// the keyed stage at parallelism 3 on a quorum queue, and the sink's
// at-least-once; SIGKILL torture of the YAML pipeline with dedupe_by at
// parallelism 3 (the pipeline's keyed stage); and the conformance suite
// (connectortest) for the at-least-once queue source, the stream source
// (exactly-once, three streams at parallelism 2) and the sink.
package rabbitmq
