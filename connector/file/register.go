package file

import "github.com/sluicehq/sluice/connector"

func init() {
	connector.Register(connector.Info{Name: "file", Role: "source", System: "files and directories (text lines, CSV, JSON lines, gzip)",
		Cases: []connector.Case{
			{Guarantee: connector.ExactlyOnce, When: "with checkpoints: file and offset of the next record are state; continuous monitoring of a directory"},
			{Guarantee: connector.AtLeastOnce, When: "without checkpoints: a restart reads every file again"},
		}, Test: "local filesystem"})
	connector.Register(connector.Info{Name: "file", Role: "sink", System: "files (text, JSON lines, CSV, Parquet), bucketed",
		Cases: []connector.Case{
			{Guarantee: connector.ExactlyOnce, When: "with checkpoints: hidden in-progress files, pending on the barrier, renamed visible when the checkpoint completes"},
			{Guarantee: connector.AtLeastOnce, When: "without checkpoints: everything becomes visible only at end of input"},
		}, Test: "local filesystem, SIGKILL torture test"})
}
