package pipeline

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/stream"
)

func init() {
	sourceTypes["kafka"] = sourceType{keys: []string{"brokers", "topics", "topic", "topic_regex", "group", "start", "start_time",
		"read_uncommitted", "bounded", "discovery_interval", "format", "tls", "sasl"}, decode: decodeKafkaSource}
	sinkTypes["kafka"] = sinkType{keys: []string{"brokers", "topic", "key", "delivery", "transactional_id_prefix",
		"transaction_timeout", "transaction_pool_size", "delivery_timeout", "tls", "sasl"}, decode: decodeKafkaSink}
}

// ---- kafka ----

type kafkaSource struct {
	opts   []kafka.SourceOption
	fmt    string
	sec    kafkaSecurity
	schema *recordType // format: json: checked on every record
}

func (k *kafkaSource) recordType(d *decoder, o *obj, schema *recordType) *recordType {
	if k.fmt == "json" {
		k.schema = schema
	}
	return formatRecordType(d, o, k.fmt, schema)
}

// brokerList decodes brokers: a comma-separated string or a list.
func brokerList(d *decoder, o *obj) []string {
	n := o.get("brokers")
	if n == nil {
		d.fail(o.node(), o.at("brokers"), "missing; the seed brokers, e.g. brokers: localhost:9092 (comma-separated or a list)")
		return nil
	}
	var out []string
	before := d.errs.count()
	for _, s := range d.stringList(n, o.at("brokers")) {
		for b := range strings.SplitSeq(s, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	if len(out) == 0 && d.errs.count() == before {
		d.fail(n, o.at("brokers"), "no broker given; e.g. brokers: localhost:9092")
	}
	return out
}

func decodeKafkaSource(d *decoder, o *obj) sourceImpl {
	k := &kafkaSource{}
	if bs := brokerList(d, o); len(bs) > 0 {
		k.opts = append(k.opts, kafka.Brokers(bs...))
	}
	var topics []string
	if o.has("topic") {
		topics = append(topics, d.str(o, "topic", ""))
	}
	if o.has("topics") {
		topics = append(topics, d.stringList(o.get("topics"), o.at("topics"))...)
	}
	regex := d.str(o, "topic_regex", "")
	switch {
	case len(topics) == 0 && regex == "":
		d.fail(o.node(), o.at("topic"), "missing; give topic:, topics: or topic_regex:")
	case len(topics) > 0 && regex != "":
		d.fail(o.get("topic_regex"), o.at("topic_regex"), "give topic(s) or topic_regex, not both")
	case regex != "":
		k.opts = append(k.opts, kafka.TopicRegex(regex))
	default:
		k.opts = append(k.opts, kafka.Topics(topics...))
	}
	group := d.str(o, "group", "")
	if group != "" {
		k.opts = append(k.opts, kafka.Group(group))
	}
	start, sn := d.enum(o, "start", "earliest", "earliest", "latest", "committed", "timestamp")
	switch start {
	case "latest":
		k.opts = append(k.opts, kafka.StartFrom(kafka.Latest()))
	case "committed":
		if group == "" && !d.bad(o.get("group")) {
			d.fail(sn, o.at("start"), "start: committed needs group:")
		}
		k.opts = append(k.opts, kafka.StartFrom(kafka.Committed(kafka.Earliest())))
	case "timestamp":
		ts := d.str(o, "start_time", "")
		t, err := time.Parse(time.RFC3339, ts)
		if tn := o.get("start_time"); tn == nil {
			d.fail(sn, o.at("start_time"), "missing; start: timestamp needs start_time: an RFC 3339 time, e.g. 2024-05-01T00:00:00Z")
		} else if err != nil {
			d.fail(tn, o.at("start_time"), "%q is not an RFC 3339 time; use e.g. 2024-05-01T00:00:00Z", ts)
		}
		k.opts = append(k.opts, kafka.StartFrom(kafka.AtTimestamp(t)))
	}
	if d.boolean(o, "read_uncommitted", false) {
		k.opts = append(k.opts, kafka.ReadUncommitted())
	}
	if d.boolean(o, "bounded", false) {
		k.opts = append(k.opts, kafka.Bounded())
	}
	if o.has("discovery_interval") {
		k.opts = append(k.opts, kafka.DiscoveryInterval(d.duration(o, "discovery_interval", 0, 0)))
	}
	k.fmt = decodeFormat(d, o)
	k.sec = d.decodeKafkaSecurity(o)
	return k
}

func (k *kafkaSource) build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error) {
	dec := checkedDecoder(lineDecoder(k.fmt), k.schema)
	opts := append(slices.Clone(k.opts), kafka.SourceName(src.Name))
	if sec, _ := k.sec.clientOptions(b.log, "kafka source "+src.Name); len(sec) > 0 {
		opts = append(opts, kafka.ClientOptions(sec...))
	}
	ks, err := kafka.NewSource(kafka.ValueDecoder(dec), opts...)
	if err != nil {
		return stream.Stream[Record]{}, err
	}
	return fromSource(b, src, stream.FromSource(b.env, src.Name, ks, ws)), nil
}

type kafkaSink struct {
	brokers     []string
	topic       string
	key         *expr
	exactlyOnce bool
	prefix      string
	txnTimeout  time.Duration
	poolSize    int
	delivery    time.Duration
	sec         kafkaSecurity
}

func decodeKafkaSink(d *decoder, o *obj) sinkImpl {
	k := &kafkaSink{}
	k.brokers = brokerList(d, o)
	k.topic, _ = d.required(o, "topic", "the topic to write to, e.g. topic: out")
	if o.has("key") {
		n := o.get("key")
		if s, ok := d.scalar(n, o.at("key"), "a field name or CEL expression"); ok {
			e, err := compile(keyExprSource(strings.TrimSpace(s)), d.scope(), outAny)
			if err != nil {
				d.fail(n, o.at("key"), "bad CEL expression %q: %v", short(s), err)
			}
			k.key = e
		}
	}
	delivery, dn := d.enum(o, "delivery", "at-least-once", "exactly-once", "at-least-once")
	k.exactlyOnce = delivery == "exactly-once"
	k.prefix = d.str(o, "transactional_id_prefix", "")
	if k.prefix != "" && !k.exactlyOnce && !d.bad(dn) {
		d.fail(o.get("transactional_id_prefix"), o.at("transactional_id_prefix"), "goes with delivery: exactly-once")
	}
	k.txnTimeout = d.duration(o, "transaction_timeout", 0, time.Millisecond)
	k.poolSize = int(d.integer(o, "transaction_pool_size", 0, kafkaMinPoolSize, 4096))
	k.delivery = d.duration(o, "delivery_timeout", 0, time.Second)
	k.sec = d.decodeKafkaSecurity(o)
	return k
}

func (k *kafkaSink) build(b *builder, in stream.Stream[Record], snk *Sink) (stream.Sink, error) {
	key := k.key
	sec, guard := k.sec.clientOptions(b.log, "kafka sink "+snk.Name)
	ser := func(r Record) (*kgo.Record, error) {
		// The producer retries a rejected login for ever: the next record
		// fails the job instead.
		if err := guard.err(); err != nil {
			return nil, err
		}
		val, err := encodeJSONRecord(r)
		if err != nil {
			return nil, err
		}
		rec := &kgo.Record{Topic: k.topic, Value: val}
		if key != nil {
			kv, err := key.eval(r)
			if err != nil {
				return nil, err
			}
			if s, ok := kv.(string); ok {
				rec.Key = []byte(s)
			} else {
				rec.Key, _ = encodeJSONValue(kv)
			}
		}
		return rec, nil
	}
	opts := []kafka.SinkOption{kafka.Brokers(k.brokers...), kafka.DefaultTopic(k.topic)}
	if len(sec) > 0 {
		opts = append(opts, kafka.ClientOptions(sec...))
	}
	if k.delivery > 0 {
		opts = append(opts, kafka.DeliveryTimeout(k.delivery))
	}
	if k.exactlyOnce {
		prefix := k.prefix
		if prefix == "" {
			prefix = "sluice-" + b.p.Name + "-" + uid(snk.path)
		}
		opts = append(opts, kafka.ExactlyOnce(prefix))
		cp := b.p.Checkpoints
		opts = append(opts, kafka.ExpectCheckpoints(cp.Interval, cp.Timeout))
		if k.txnTimeout > 0 {
			opts = append(opts, kafka.TransactionTimeout(k.txnTimeout))
		}
		if k.poolSize > 0 {
			opts = append(opts, kafka.TransactionPoolSize(k.poolSize))
		}
	}
	s, err := kafka.NewSink(kafka.Serializer[Record](ser), opts...)
	if err != nil {
		return stream.Sink{}, err
	}
	return in.SinkTo("kafka", s), nil
}

// kafkaMinPoolSize is the least transaction pool size the kafka sink
// accepts (kafka.TransactionPoolSize).
const kafkaMinPoolSize = 4

func encodeJSONValue(v any) ([]byte, error) { return json.Marshal(sanitize(v)) }
