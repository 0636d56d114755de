package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// rejected lists the broker errors that fail again on every retry, with
// what the user should change. They are reported wrapping
// connector.ErrRejected, so the job ends instead of restarting.
var rejected = []struct {
	err  *kerr.Error
	hint string
}{
	{kerr.UnknownTopicOrPartition, "the topic does not exist: create it (or enable auto-creation on the brokers), or correct the topic name"},
	{kerr.InvalidTopicException, "the topic name is invalid: correct it"},
	{kerr.TopicAuthorizationFailed, "the principal is not authorized for the topic: grant it the ACLs (WRITE/DESCRIBE for a sink, READ/DESCRIBE for a source)"},
	{kerr.ClusterAuthorizationFailed, "the principal is not authorized on the cluster: grant it the cluster ACLs it needs (IDEMPOTENT_WRITE for a producer)"},
	{kerr.TransactionalIDAuthorizationFailed, "the principal is not authorized for transactional ids: grant WRITE/DESCRIBE on the sink's transactional id prefix"},
	{kerr.GroupAuthorizationFailed, "the principal is not authorized for the consumer group: grant it READ on the group"},
	{kerr.SaslAuthenticationFailed, "authentication was refused: check the SASL mechanism, user and password"},
	{kerr.UnsupportedSaslMechanism, "the brokers do not support the SASL mechanism: choose one they enable"},
	{kerr.MessageTooLarge, "a record is larger than the topic accepts: raise max.message.bytes of the topic (and the producer's max record batch bytes) or write smaller records"},
	{kerr.RecordListTooLarge, "a batch is larger than the topic accepts: raise max.message.bytes of the topic or lower the producer's max record batch bytes"},
	{kerr.InvalidRecord, "the brokers refused a record as invalid (a compacted topic needs a key on every record)"},
}

// classify returns err, wrapped with connector.ErrRejected and a hint when
// the brokers' error is one no retry can fix.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, r := range rejected {
		if errors.Is(err, r.err) {
			return fmt.Errorf("%w (%w: %s)", err, connector.ErrRejected, r.hint)
		}
	}
	return err
}

// checkTopic asks the brokers whether topic exists, so that a sink writing
// to a missing topic fails when it starts, with what to change, instead of
// after the producer's retries. An error reaching the brokers is returned
// as is (a retry may help).
func checkTopic(cfg *sinkConfig, topic string, log *slog.Logger) error {
	if topic == "" {
		return nil
	}
	cl, err := kgo.NewClient(cfg.conn.clientOpts(log)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.deliveryTimeout)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka sink: look up topic %q: %w", topic, classify(err))
	}
	td, ok := details[topic]
	switch {
	case !ok:
		return fmt.Errorf("kafka sink: topic %q: %w (%w: %s)", topic, kerr.UnknownTopicOrPartition, connector.ErrRejected, rejected[0].hint)
	case td.Err != nil:
		return fmt.Errorf("kafka sink: topic %q: %w", topic, classify(td.Err))
	}
	return nil
}
