package socket

import (
	"fmt"

	"github.com/sluicehq/sluice/connector"
)

// The socket sink of YAML pipelines (type: socket): one record per line
// in the sink's format, to a TCP server. (The socket source of YAML
// pipelines is built into package pipeline, which decodes its lines.)

func init() {
	connector.RegisterSink(connector.SinkType{Name: "socket", Formats: []string{"json"},
		Config: func() connector.SinkConfig { return &SinkConfig{} },
		Docs: connector.Info{System: "TCP, newline-delimited text",
			Cases: []connector.Case{
				{Guarantee: connector.AtLeastOnce, When: "with checkpoints: flushed on every barrier, unflushed lines rewritten after reconnecting"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints"},
			}, Test: "loopback TCP server"}})
}

// SinkConfig is the configuration of the socket sink of YAML pipelines.
type SinkConfig struct {
	Address string `yaml:"address" required:"host:port of the server to write lines to"`
}

// Declare implements connector.Declarer.
func (c *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	return NewSink[connector.Record](c.Address, nil).Declare(checkpointing)
}

// NewSink implements connector.SinkConfig. A record the format cannot
// encode is written as Go's %v of it.
func (c *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	return NewSink(c.Address, func(r connector.Record) []byte {
		b, err := ctx.EncodeRecord(r)
		if err != nil {
			return fmt.Appendf(nil, "%v", r)
		}
		return b
	}), nil
}
