// Package pubsub is sluice's Google Cloud Pub/Sub connector: a source
// that is at-least-once with checkpoints (exactly-once with deduplication
// by message id) and a sink that is at-least-once.
package pubsub
