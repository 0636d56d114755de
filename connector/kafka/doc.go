// Package kafka is sluice's Apache Kafka connector, on franz-go: a source
// that is exactly-once with checkpoints, and a sink that is at-least-once
// or, with transactions, exactly-once. It implements the contracts of
// package connector and knows nothing of the runtime.
//
//	src, err := kafka.NewSource(kafka.JSON[Order](),
//		kafka.Brokers("localhost:9092"), kafka.Topics("orders"), kafka.Group("order-job"))
//	orders := stream.FromSource(env, "orders", src, eventtime.BoundedOutOfOrderness[Order](5*time.Second))
//
//	snk, err := kafka.NewSink(kafka.JSONSerializer[Total]("totals", nil),
//		kafka.Brokers("localhost:9092"), kafka.ExactlyOnce("order-job"),
//		kafka.ExpectCheckpoints(10*time.Second, time.Minute))
//	totals.SinkTo("totals", snk)
//
// # Source
//
// Every partition of the topics (a list, or a regular expression) is a
// split whose state is the offset of the next record, so a checkpoint holds
// where each partition continues and a restored job reads every record
// exactly once. The split enumerator resolves start offsets (StartFrom:
// earliest, latest, a timestamp, or the group's committed offsets with a
// fallback) once, when the job first starts, and assigns each partition to
// a fixed reader; it looks for new partitions and topics every
// DiscoveryInterval and reads those from their earliest offset. A reader
// emits each record with its Kafka timestamp as event time through the
// output of its partition, so each partition has its own watermark.
// Records are decoded by a Decoder (Records, Bytes, String, JSON[T],
// JSONMap); a record that does not decode is rejected with its location
// "topic/partition@offset" to the job's dead-letter output, or fails the
// job. Offsets are committed to the consumer group (Group) only after a
// checkpoint completes, for monitoring; the group is never joined and
// recovery never uses it. The default isolation is read_committed (see
// ReadUncommitted for why). With Bounded the source stops at the offsets
// that were the partitions' ends when the job first started.
//
// # Sink
//
// The at-least-once sink produces with an idempotent producer; Flush, on
// every barrier, waits until every record produced before is acknowledged
// (the client retries transient failures). A Serializer makes the record:
// key (records with one key go to one partition), value, headers, topic.
//
// Both sinks give up on a record not acknowledged within DeliveryTimeout
// (default 2m, retries included), and an exactly-once sink gives up
// aborting lingering transactions at start after the same time: the job
// then fails with the client's last error (an unreachable broker, a
// refused login) and restarts by its restart strategy, rather than
// waiting for ever. The clients' own warnings and errors go to the job's
// logger, prefixed "kafka client:".
//
// The exactly-once sink (ExactlyOnce) writes the records of each subtask
// between two barriers in one transaction. On the barrier the writer
// flushes it and hands a committable (transactional id, producer id,
// epoch, checkpoint id) to the checkpoint, leaving the transaction open;
// when the checkpoint completes the committer commits it by sending EndTxn
// with that producer id and epoch to the transaction coordinator. The
// request is the same whether the producer that wrote the transaction is
// alive or not, so after a failure the restored job commits the
// transactions of its checkpoint the same way (restoring checkpoint n means
// n completed). A transaction already committed counts as committed; one
// the broker aborted or fenced (timeout, another producer with the same
// id) is an error wrapping connector.ErrDataLoss.
//
// Transactional ids are prefix-<subtask>-<n>, n below TransactionPoolSize,
// taken in turn; an id is reused only when neither of the two latest
// completed checkpoints holds its previous transaction (never while the
// latest does), so a restore finds the transactions it commits unchanged.
// A writer does not begin a transaction that would leave every id of its
// pool pre-committed: the job restored from the next snapshot must be able
// to write before its first checkpoint completes. The writer state records
// each subtask's pool. At start a writer aborts what failed runs left open:
// every id of its pool and of the pools of subtasks a scale-down removed
// (their state comes to it) that is Ongoing and not held by the restored
// checkpoint, and, with AbortLingeringBelow, the pools of subtasks no state
// names. This relies on the runtime restoring the state of old subtask s
// into new subtask s mod parallelism; the writer checks it and refuses to
// start otherwise.
//
// A savepoint pre-commits like a checkpoint but commits nothing: its
// transactions stay open, holding back read_committed consumers, until the
// next checkpoint completes or a job restored from the savepoint commits
// them; a job cancelled after a savepoint and never restored from it leaves
// them open until the transaction timeout aborts them.
//
// The transaction timeout must exceed checkpoint interval + checkpoint
// timeout + RestartBudget, or the broker may abort a transaction before
// its checkpoint commits it. Sinks cannot see the job's checkpoint
// configuration yet; ExpectCheckpoints passes it, and without it the sink
// checks against the runtime's default checkpoint timeout. Without
// checkpoints the exactly-once sink is downgraded to at-least-once (it has
// no commit point) and says so in its declaration and in the log.
//
// # Security and YAML
//
// TLS and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) are options of both
// the source and the sink. The package registers the kafka source and
// sink of YAML pipelines (SourceConfig, SinkConfig, with their tls: and
// sasl: options) with package connector.
package kafka
