package socket

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
)

// The socket source and sink of YAML pipelines (type: socket): one record
// per line in the source's or sink's format, from or to a TCP server.

func init() {
	connector.RegisterSource(connector.SourceType{Name: "socket", Formats: []string{"json", "text"},
		Config: func() connector.SourceConfig { return &SourceConfig{} },
		Docs: connector.Info{System: "TCP, newline-delimited text",
			Cases: []connector.Case{{Guarantee: connector.AtMostOnce, When: "always: the stream cannot be replayed"}},
			Test:  "loopback TCP server"}})
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

// SourceConfig is the configuration of the socket source of YAML
// pipelines.
type SourceConfig struct {
	Address string `yaml:"address" required:"host:port of the server to read lines from"`
	// Format is json (blank lines skipped) or text.
	Format       string `yaml:"format"`
	EndOnClose   bool   `yaml:"end_on_close"`
	MaxLineBytes int    `yaml:"max_line_bytes" min:"1"`
}

func (c *SourceConfig) options() []SourceOption {
	var opts []SourceOption
	if c.EndOnClose {
		opts = append(opts, EndOnClose())
	}
	if c.MaxLineBytes > 0 {
		opts = append(opts, MaxLineBytes(c.MaxLineBytes))
	}
	return opts
}

// Declare implements connector.Declarer.
func (c *SourceConfig) Declare(checkpointing bool) connector.Declaration {
	return NewSource(c.Address, c.options()...).Declare(checkpointing)
}

// NewSource implements connector.SourceConfig: every line is decoded by
// ctx; a line that does not decode is a bad record located
// "host:port connection N line M".
func (c *SourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	json := c.Format != "text"
	return &recordSource{Source: NewSource(c.Address, c.options()...), decode: func(line string) (connector.Record, error) {
		if json && strings.TrimSpace(line) == "" {
			return nil, errSkip
		}
		return ctx.DecodeRecord([]byte(line))
	}}, nil
}

// recordSource is a Source of the records its lines decode to.
type recordSource struct {
	*Source
	decode func(string) (connector.Record, error)
}

// NewReader returns the reader of one subtask.
func (s *recordSource) NewReader(ctx connector.ReaderContext) (connector.Reader[connector.Record], error) {
	return newReader(s.Source, ctx, s.decode), nil
}
