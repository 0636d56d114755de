package kafka

import "github.com/sluicehq/sluice/connector"

func init() {
	connector.Register(connector.Info{Name: "kafka", Role: "source", System: "Apache Kafka (franz-go)",
		Cases: []connector.Case{
			{Guarantee: connector.ExactlyOnce, When: "with checkpoints: partition offsets are state; group offsets committed after checkpoints complete, for monitoring only"},
			{Guarantee: connector.AtLeastOnce, When: "without checkpoints, starting from earliest: a restart reads everything again"},
			{Guarantee: connector.AtMostOnce, When: "without checkpoints, starting from latest or a timestamp"},
		}, Test: "in-process Kafka-protocol broker (kfake), SIGKILL torture test"})
	connector.Register(connector.Info{Name: "kafka", Role: "sink", System: "Apache Kafka (franz-go)",
		Cases: []connector.Case{
			{Guarantee: connector.ExactlyOnce, When: "exactly-once delivery with checkpoints: one transaction per checkpoint per subtask, committed when the checkpoint completes; read with read_committed"},
			{Guarantee: connector.AtLeastOnce, When: "at-least-once delivery, or exactly-once delivery without checkpoints (downgraded loudly): flushed on every barrier and at the end"},
		}, Test: "in-process Kafka-protocol broker (kfake), SIGKILL torture test"})
}
