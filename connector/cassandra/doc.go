// Package cassandra is sluice's sink for Apache Cassandra and ScyllaDB,
// on the gocql driver (github.com/gocql/gocql, CQL native protocol v4).
// It applies one CQL statement (an INSERT, UPDATE or DELETE) per record,
// with the statement's bind markers taken from the record, and declares
// the delivery guarantee that follows from that statement.
//
// It sits among the connectors (connector/<system>): it knows the sink
// contracts of package connector and nothing of the runtime. Its sibling
// package cqltest is a CQL stand-in server for tests.
//
// # Go
//
//	snk, err := cassandra.NewSink("INSERT INTO shop.orders (id, total) VALUES (?, ?)",
//		func(o Order) ([]any, error) { return []any{o.ID, o.Total}, nil },
//		cassandra.Hosts("10.0.0.1", "10.0.0.2:9042"),
//		cassandra.LocalDC("eu-west"),
//		cassandra.Credentials("sluice", os.Getenv("CASSANDRA_PASSWORD")))
//	stream.SinkTo(orders, "cassandra", snk)
//
// A [Binder] returns the values of the markers in order; nil is null and
// gocql.UnsetValue leaves a column as it is. Statements with counter
// updates or list appends get exactly-once with [WriteAhead]:
//
//	snk, err := cassandra.NewSink("UPDATE shop.views SET n = n + ? WHERE page = ?", bind,
//		cassandra.Hosts("10.0.0.1"), cassandra.WriteAhead("orders-job/views"))
//
// # YAML
//
//	sink:
//	  type: cassandra
//	  hosts: 10.0.0.1,10.0.0.2:9042      # contact points (required)
//	  keyspace: shop                     # for unqualified table names
//	  statement: UPDATE views SET n = n + 1 WHERE page = :page   # (required)
//	  consistency: local_quorum
//	  delivery: exactly-once             # write-ahead for a non-idempotent statement
//	  local_dc: eu-west
//	  max_inflight: 64
//	  username: sluice
//	  password_env: CASSANDRA_PASSWORD   # the name of the variable, not the password
//	  tls: {ca_file: ca.pem}
//
// A named marker (:page) takes the record's field of that name; a ? takes
// the field named after its column (INSERT INTO t (id, n) VALUES (?, ?)
// binds fields id and n; SET n = n + ? binds n; WHERE page = ? binds
// page). USING TTL and USING TIMESTAMP need named markers. An absent field
// leaves its column unset; an absent or null primary key column is a bad
// record. Values are converted to the column's type where JSON lost it:
// integers to double and float columns, integral numbers to integer
// columns, RFC 3339 strings and epoch milliseconds to timestamps, strings
// to blobs, element by element in lists, sets and maps.
//
// See examples/cassandra.yaml.
//
// # Options and defaults
//
// Go option (YAML key): default.
//
//   - [Hosts] (hosts): required; port 9042 when absent. The driver
//     discovers the other nodes from system.peers.
//   - [Keyspace] (keyspace): none; then the statement must name
//     keyspace.table. The sink sends the statement qualified with it (one
//     session without keyspace serves the statement, the schema checks
//     and the commit tables).
//   - [Consistency] (consistency): LOCAL_QUORUM.
//   - [LocalDC] (local_dc): none, all nodes in turn; given, gocql's
//     DC-aware round-robin policy sends requests to that data center's
//     nodes (the others only when none of those is up).
//   - [Credentials] (username, password_env): none; PasswordAuthenticator.
//     The password is read from the environment variable when the sink is
//     built and never appears in a plan, a message or a log.
//   - [TLS] (tls: true, false or {ca_file, cert_file, key_file,
//     server_name, insecure_skip_verify}): off.
//   - [MaxInFlight] (max_inflight): 64 writes outstanding per subtask.
//   - [Retries] (retries): 5; [RetryBackoff] (retry_backoff): 100ms
//     doubling up to 5s, with jitter.
//   - [Timeout] (timeout): 10s per request; [ConnectTimeout]
//     (connect_timeout): 10s.
//   - [WriteAhead] (delivery: exactly-once, sink_id): off; the YAML sink id
//     defaults to <job name>/<sink id in the job>.
//   - [CommitTable] (commit_keyspace, commit_table): the table's keyspace,
//     sluice_commits.
//   - [CommitChunk] (commit_chunk): 32 rows per batch.
//   - [CreateCommitTables] (create_commit_tables): true.
//   - [MarkerTTL] (marker_ttl): 7 days.
//   - [ClusterConfig]: a hook to change the driver's configuration.
//
// The driver's own retries are off (the sink retries, counting), and its
// log is silenced: the sink's errors and the job's log say what matters.
//
// # Guarantee
//
// [ParseStatement] reads the statement; [Sink.Declare] gives, and `sluice
// plan` shows with its reason:
//
//   - exactly-once, with checkpoints, for an idempotent statement: INSERT,
//     UPDATE ... SET col = value, set union or removal, map puts, list
//     removals, DELETE, conditional (IF ...) forms, with the key from the
//     record. Every write is sent at once (at most MaxInFlight
//     outstanding) and every checkpoint barrier waits until all writes
//     sent before it are answered; after a restore the records after the
//     checkpoint are written again, to the same effect. Each write carries
//     a timestamp taken when its record was written (increasing per
//     subtask) and kept by its retries, so that writes of one row in
//     flight at once, or a write retried after a later one, leave the
//     later record's values (Cassandra resolves by timestamp); a statement
//     with USING TIMESTAMP uses its own.
//   - at-least-once, with checkpoints, for a statement that is not
//     idempotent: a counter update (c = c + ?, c = c - 1), a list append
//     or prepend (l = l + ?, l = ? + l), a call of now(), uuid() or
//     another function that gives a new value each time. The reason names
//     the assignment. (c = c + ? with a marker may be a set union, which is
//     idempotent; the statement alone cannot tell, and the sink assumes the
//     weaker.)
//   - exactly-once with delivery: exactly-once (write-ahead), with
//     checkpoints, for any statement, as below.
//   - at-least-once without checkpoints, whatever the statement (writes
//     are waited for at the end of the input; a job started over writes
//     again); write-ahead then writes directly and says so in the log.
//
// # Write-ahead
//
// The writer keeps the rows of a checkpoint (serialized for their
// columns) and hands them to the checkpoint as committables, one per chunk
// of CommitChunk rows. Nothing reaches Cassandra before the checkpoint
// completes. Then the committer applies each chunk in one batch together
// with the chunk's progress marker, keyed (sink id, writer subtask,
// checkpoint id, epoch, chunk):
//
//   - for a counter table, a COUNTER batch of the rows and
//     UPDATE <commit table>_counts SET applied = applied + 1 ...; up to
//     MaxInFlight batches at once (increments commute);
//   - otherwise a LOGGED batch of the rows and an INSERT INTO <commit
//     table> ... USING TTL marker_ttl, one batch after the other (list
//     appends keep the records' order).
//
// The epoch is drawn at random by every writer attempt and travels in its
// committables, so that a job started afresh under the same sink id (its
// checkpoint ids start at 1 again) never takes an earlier run's markers
// for its own. Before applying a checkpoint's chunks the committer reads
// their markers and skips the chunks that have one: a commit repeated
// after a restore, or after a failure half-way, applies each chunk once.
// A SIGKILL of the job can never separate a chunk from its marker: they
// travel in one request.
//
// What remains, precisely (Cassandra has no multi-partition transactions):
//
//   - A batch that fails with an ambiguous outcome (write timeout, lost
//     connection) is not sent again blindly: the committer reads its
//     marker first and sends it again only when the marker is absent. A
//     counter batch that Cassandra applies after that read (a replica
//     that accepted the write late, a hint replayed) is then applied
//     twice: up to CommitChunk rows counted twice per such event. The
//     commit detects it afterwards only if the chunk is committed again
//     (a marker above 1 is logged as an error).
//   - Counter batches are unlogged: when the coordinator fails during a
//     batch that spans partitions, Cassandra may apply some of its
//     statements and not others; if the marker's partition was among
//     those applied, the missing rows are lost, and if not, the applied
//     ones are applied again. Chunks are bounded by CommitChunk; use 1 to
//     bound it to one row per failure at the cost of a batch per row.
//   - A logged batch that times out with write type BATCH is in
//     Cassandra's batch log and will be applied: the committer waits for
//     its marker (within Retries) instead of sending it again; if the job
//     fails first and the restored commit reads the marker before the
//     batch log replays it, the chunk is applied twice. A timeout of type
//     BATCH_LOG means the batch was not applied, and it is sent again.
//   - The markers are read and written at the sink's consistency level;
//     below QUORUM (ONE, LOCAL_ONE) a marker may not be visible to the
//     read that looks for it.
//   - Restoring a checkpoint older than the newest completed one replays
//     records whose effects later checkpoints committed: that is not
//     exactly-once for any sink (see connector.ErrOutputAhead); the sink
//     does not detect it.
//   - All rows of a checkpoint are held in memory and in the checkpoint
//     until it completes: size checkpoint intervals accordingly.
//   - Conditional statements (IF ...) cannot be batched with markers:
//     WriteAhead refuses them. They are idempotent, so YAML's
//     delivery: exactly-once writes them directly.
//
// Cleaning the commit tables: when a checkpoint's commit finishes, the
// committer deletes its subtask's markers of the checkpoints that no
// restorable checkpoint holds any more (those committed before the
// barrier of the checkpoint just committed), with one range deletion.
// So at any time only the markers of the last one or two committed
// checkpoints per subtask exist; after the job ends, those of its last
// checkpoint stay (until a later run under the same sink id passes that
// checkpoint id). Logged-batch markers also expire after marker_ttl
// (counters cannot have a TTL). Markers of writer subtasks that a restore
// at a lower parallelism removed are not deleted (logged-batch markers
// expire). A marker's key is never written again after its deletion
// (every attempt has its own epoch), which Cassandra requires of
// counters.
//
// The commit tables, created by subtask 0 with IF NOT EXISTS when
// missing (the other subtasks wait for them: concurrent schema changes of
// one table are what Cassandra handles worst) unless
// create_commit_tables: false:
//
//	CREATE TABLE <ks>.sluice_commits (sink text, subtask int, checkpoint bigint, epoch bigint,
//	    chunk int, PRIMARY KEY ((sink, subtask), checkpoint, epoch, chunk));
//	CREATE TABLE <ks>.sluice_commits_counts (sink text, subtask int, checkpoint bigint, epoch bigint,
//	    chunk int, applied counter, PRIMARY KEY ((sink, subtask), checkpoint, epoch, chunk));
//
// The sink's user needs SELECT and MODIFY on the commit table it uses.
// The sink id must be unique among the jobs writing to the cluster and
// stay the same across restores.
//
// # Failures
//
// Writes that fail with a write or read timeout, an unavailable,
// overloaded or bootstrapping coordinator, a server error or a lost
// connection are retried (Retries, with backoff); then the sink fails and
// the job restarts from its latest checkpoint. Everything else is
// permanent and ends the job with a message that says what and where, and
// what to change:
//
//   - a missing keyspace, table or column: found when the writer starts,
//     from system_schema (the driver itself reports a missing keyspace only
//     as "no connections were made");
//   - CQL the cluster calls invalid (Syntax) or refuses (Invalid);
//   - a refused login (check username and password_env) or permission
//     (grant MODIFY);
//   - a TLS handshake failure;
//   - a record whose value does not fit its column, or without a primary
//     key value (connector.ErrBadRecord).
//
// The in-flight bound is a semaphore: Write takes a place (waiting, until
// its context ends, while all are taken) and the goroutine that runs the
// write frees it on every path, success, error, retry exhaustion or
// cancellation, by a deferred release. Flush waits for every outstanding
// write and returns the first failure; Close cancels outstanding writes
// and waits for their goroutines.
//
// # Tests
//
// No Cassandra or ScyllaDB server can be had where the tests run: they use
// the real gocql driver against package cqltest, a CQL native-protocol v4
// stand-in server (in-memory tables, counters, lists, batches, TTLs,
// system tables, injected timeouts, unavailable errors and dropped
// connections). The stand-in applies a batch atomically, which Cassandra
// guarantees only for a single partition or a logged batch: the windows
// above that come from Cassandra's side are argued, not tested. The
// driver's token-aware routing is not used (the stand-in does not serve
// the schema tables it reads) and not offered.
//
// The tests cover the statement analysis (table-driven, fuzzed), the
// semaphore on every path (no place or goroutine left), retries and their
// bound, the permanent errors and their messages, bad records, TLS with a
// CA file and a refused certificate, a password from the environment,
// DC-aware routing over a four-node stand-in in two data centers, the
// write-ahead commit under injected failures between and during batches,
// and a YAML job end to end. TestTortureIdempotentInsert and
// TestTortureCounterExactlyOnce SIGKILL jobs at parallelism 2 (package
// internal/crashtest, the stand-in in the parent test process) and check
// every record's row, and every counter at exactly 1, afterwards;
// SLUICE_TORTURE=long runs them with 100+ kills. The conformance suite
// (connector/connectortest) runs an idempotent INSERT, a counter update in
// write-ahead mode and a counter update written directly (the last only
// without -short).
package cassandra
