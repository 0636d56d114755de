package stdout

import (
	"fmt"

	"github.com/sluicehq/sluice/connector"
)

// The stdout sink of YAML pipelines (type: stdout): one record per line
// in the sink's format, to the job's terminal output.

func init() {
	connector.RegisterSink(connector.SinkType{Name: "stdout", Formats: []string{"json"},
		Config: func() connector.SinkConfig { return &Config{} },
		Docs: connector.Info{System: "standard output",
			Cases: []connector.Case{
				{Guarantee: connector.AtLeastOnce, When: "with checkpoints: flushed on every barrier; lines after the last checkpoint are printed again after a restore"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints"},
			}, Test: "in-process"}})
}

// Config is the configuration of the stdout sink of YAML pipelines: it
// has no options of its own.
type Config struct{}

// Declare implements connector.Declarer.
func (c *Config) Declare(checkpointing bool) connector.Declaration {
	return (&Sink[connector.Record]{}).Declare(checkpointing)
}

// NewSink implements connector.SinkConfig. A record the format cannot
// encode is printed as Go's %v of it.
func (c *Config) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	return To(ctx.Stdout(), func(r connector.Record) []byte {
		b, err := ctx.EncodeRecord(r)
		if err != nil {
			return fmt.Appendf(nil, "%v", r)
		}
		return b
	}), nil
}
