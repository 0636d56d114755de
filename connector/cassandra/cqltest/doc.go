// Package cqltest is a stand-in for Apache Cassandra in tests: a CQL
// native-protocol (version 4) server that the real gocql driver talks to,
// over an in-memory table store. No Cassandra or ScyllaDB server can be
// had where sluice's tests run; this is not one, and it is named a
// stand-in wherever it is used.
//
// It sits beside connector/cassandra, as net/http/httptest sits beside
// net/http: the sink's tests, its SIGKILL tortures and user programs start
// a [Cluster] in process and point the driver at [Cluster.Addrs].
//
// # What it speaks
//
// OPTIONS, STARTUP (with PasswordAuthenticator when [Credentials] is
// given: AUTHENTICATE, AUTH_RESPONSE, AUTH_SUCCESS), REGISTER (answered
// READY; no events are pushed), QUERY, PREPARE, EXECUTE (an unknown id is
// answered Unprepared, so the driver prepares again) and BATCH (logged,
// unlogged and counter; atomic: all statements or none), without
// compression. Requests of a connection are served concurrently, as the
// protocol's stream ids allow.
//
// The driver's own queries are answered from the cluster's nodes:
// system.local (the node: host id, data center, rack "rack1", release
// 3.11.16, its address (node i listens on 127.0.0.<i+1>, since the
// driver's host selection tells nodes apart by address), one token, and
// native_port, which tells the driver the node's port), system.peers (the
// other nodes), system_schema.keyspaces and system_schema.columns. Other system tables are
// unknown. So the driver's features that read the schema (token-aware
// routing, KeyspaceMetadata) do not work against it, and since it reports
// release 3.11 the driver never asks for system.peers_v2. Schema
// agreement works (every node reports one schema version).
//
// # What it stores
//
// Keyspaces and tables created by CREATE KEYSPACE and CREATE TABLE
// (partition key, clustering columns, static columns, counter tables),
// with the types ascii, text/varchar,
// bigint, int, smallint, tinyint, varint, boolean, double, float, blob,
// uuid, timeuuid, timestamp, inet, counter, list, set and map. Statements:
// USE, DROP TABLE/KEYSPACE, TRUNCATE, INSERT (IF NOT EXISTS, USING TTL),
// UPDATE (SET col = v, counter col = col ± v, list/set col = col + v,
// col = v + col, col = col - v; USING TTL; IF EXISTS, IF col = v), DELETE
// (of rows or columns, by full key or by partition and a range of the
// next clustering column) and SELECT (columns, *, count(*); by partition
// key, clustering prefix and range, or the whole table; LIMIT). Bind
// markers are ? or :name; values may be named. Rows come back in key
// order. TTLs expire on the wall clock. Every cell keeps its write
// timestamp (the request's default timestamp, else the server's clock) and
// a write older than the cell's is ignored, as in Cassandra, except counter
// increments and collection merges; deletions are not timestamped. No filtering on regular columns,
// no secondary indexes, no user types, no paging (all rows in one page),
// no lightweight transactions inside batches.
//
// Errors carry Cassandra's codes: Syntax (0x2000) for what the parser
// refuses, Invalid (0x2200) for unknown keyspaces, tables and columns or
// bad values, AlreadyExists, Unprepared, BadCredentials.
//
// # Faults
//
// [Cluster.Inject] makes matching statements fail with WriteTimeout,
// Unavailable, ReadTimeout, Overloaded, Unauthorized (or any code), after
// a delay, optionally after the write took effect (a timeout the driver
// cannot tell from a lost write), or by dropping the connection.
// [Cluster.Count] counts statements as they arrive;
// [Server.MaxInFlight] tells how many data statements a node served at
// once. [Server.DropConnections] and [Cluster.ForgetPrepared] act out a
// node restart.
//
// The frame decoder and the CQL parser are fuzzed (FuzzFrameDecoder,
// FuzzParse).
package cqltest
