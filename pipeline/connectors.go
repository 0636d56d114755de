package pipeline

import (
	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/stream"
)

// sourceImpl builds a decoded source; ws assigns event time (the zero
// strategy when the pipeline has none).
type sourceImpl interface {
	build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error)
	// recordType checks the source's schema: (nil when absent; its node
	// is o's "schema") against what the source knows of its records, and
	// returns the type of the records it emits (nil: not known).
	recordType(d *decoder, o *obj, schema *recordType) *recordType
}

// sinkImpl builds a decoded sink.
type sinkImpl interface {
	build(b *builder, in stream.Stream[Record], snk *Sink) (stream.Sink, error)
}

type sourceType struct {
	keys   []string
	decode func(d *decoder, o *obj) sourceImpl
}

type sinkType struct {
	keys   []string
	decode func(d *decoder, o *obj) sinkImpl
}

// lookupSourceType returns the source type typ of the connector
// registry.
func lookupSourceType(typ string) (sourceType, bool) {
	if t, ok := connector.LookupSource(typ); ok {
		return registeredSourceType(t), true
	}
	return sourceType{}, false
}

// lookupSinkType returns the sink type typ of the connector registry.
func lookupSinkType(typ string) (sinkType, bool) {
	if t, ok := connector.LookupSink(typ); ok {
		return registeredSinkType(t), true
	}
	return sinkType{}, false
}

func sourceTypeNames() []string { return connector.SourceTypeNames() }

func sinkTypeNames() []string { return connector.SinkTypeNames() }

// ---- record formats ----

// decodeJSONRecord decodes one JSON object; integers stay int64.
func decodeJSONRecord(b []byte) (Record, error) { return connector.DecodeJSONRecord(b) }

// encodeJSONRecord encodes a record as JSON (keys sorted). Floats that
// JSON cannot hold (NaN, infinities) become null.
func encodeJSONRecord(r Record) ([]byte, error) { return connector.EncodeJSON(r) }

func lineDecoder(format string) func([]byte) (Record, error) {
	if format == "text" {
		return func(b []byte) (Record, error) { return Record{"line": string(b)}, nil }
	}
	return decodeJSONRecord
}

// fromSource adds a connector source of records, with its dead letters.
func fromSource[T any](b *builder, src *Source, s stream.Stream[T]) stream.Stream[T] {
	id := src.UID
	if id == "" {
		id = "source"
	}
	s = s.UID(id)
	if src.Parallelism > 0 {
		s = s.Parallelism(src.Parallelism)
	}
	if b.dlq {
		b.bad = append(b.bad, stream.DeadLetters(s))
	}
	return s
}

// formatRecordType is the type of the records of a source of JSON or text
// lines (format: json or text) with the schema given.
func formatRecordType(d *decoder, o *obj, format string, schema *recordType) *recordType {
	if format == "text" {
		if schema != nil {
			d.fail(o.keyNode("schema"), o.at("schema"), "format: text makes records with one field, line: string; drop schema:")
		}
		return textRecord
	}
	return schema
}

// SourceTypes lists the source types of YAML pipelines (source.type).
func SourceTypes() []string { return sourceTypeNames() }

// SinkTypes lists the sink types of YAML pipelines (sink.type).
func SinkTypes() []string { return sinkTypeNames() }
