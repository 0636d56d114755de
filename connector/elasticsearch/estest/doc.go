// Package estest is a protocol-level stand-in for Elasticsearch, in the
// manner of net/http/httptest: an in-process HTTP server of the parts of
// the REST API that a bulk writer uses, for tests of sluice's
// Elasticsearch sink and of any program that talks to Elasticsearch
// through _bulk. No Elasticsearch server can be had on the machines the
// project is tested on; this is not one, and says so in every test that
// uses it.
//
// What it implements:
//
//   - POST/PUT /_bulk and /{index}/_bulk: NDJSON parsing of index, create,
//     update and delete actions with their metadata (_index, _id, routing,
//     version, version_type, if_seq_no, if_primary_term,
//     retry_on_conflict, require_alias, pipeline), refusing a malformed
//     request whole (status 400) as Elasticsearch does (ParseBulk), and a
//     response with one item per action, in request order, each with its
//     own status: 201 created, 200 updated / deleted / noop, 404
//     not_found for a delete of a missing document, 404
//     document_missing_exception for an update without upsert, 409
//     version_conflict_engine_exception (create of an existing id,
//     external versions not above the stored one, if_seq_no mismatch),
//     400 document_parsing_exception for a field whose value conflicts
//     with its mapping, 400 invalid_index_name_exception, 404
//     index_not_found_exception with NoAutoCreate, 403
//     cluster_block_exception for a read-only index, and injected 429 or
//     5xx items (SetItemFault, FailItems) or whole requests
//     (SetRequestFault, FailRequests).
//   - An in-memory store of documents by index and id with versions and
//     sequence numbers, dynamic mapping by the first value of each field
//     (long, double, text, boolean, date, object; numbers in strings are
//     coerced as Elasticsearch does), partial updates merged recursively,
//     data streams (CreateDataStream: op_type create only, @timestamp
//     required).
//   - GET / (cluster info with a configurable version), GET
//     /{index}/_doc/{id}, GET /{index}/_count, HEAD and PUT /{index}.
//   - The X-Elastic-Product: Elasticsearch header on every response, which
//     the official Go client requires (Product("") leaves it out, as
//     OpenSearch does), basic, API key and bearer authentication (401 when
//     missing or wrong, 403 with Forbidden), and TLS with a self-signed
//     certificate (TLS, CACertPEM).
//
// Stats counts requests and item statuses and the largest sum of request
// bodies handled at once, so tests can check retries and bounds. What it
// does not do: search, shards and replicas, refresh (documents are visible
// at once), aliases, ingest pipelines, scripts.
package estest
