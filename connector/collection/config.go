package collection

import (
	"fmt"

	"github.com/sluicehq/sluice/connector"
)

// The generator source of YAML pipelines (type: generator, or its other
// name, type: collection): records written in the file, or records made
// by expressions over their index.

func init() {
	for _, name := range []string{"generator", "collection"} {
		connector.RegisterSource(connector.SourceType{Name: name,
			Config: func() connector.SourceConfig { return &GeneratorConfig{Count: -1} }})
	}
}

// GeneratorConfig is the configuration of the generator source of YAML
// pipelines: Records, emitted once, or Count records (-1: unbounded)
// whose fields are the values of Fields, expressions over i, the index
// of the record.
type GeneratorConfig struct {
	Records []connector.Record    `yaml:"records"`
	Count   int64                 `yaml:"count" min:"-1"`
	Fields  []connector.NamedExpr `yaml:"fields" expr:"index"`
	// Rate is in records per second per source subtask (0: unlimited).
	Rate float64 `yaml:"rate" min:"0"`
}

// Check implements connector.Checker.
func (c *GeneratorConfig) Check(ch connector.ConfigCheck) {
	switch records, fields := ch.Has("records"), ch.Has("fields"); {
	case records && fields:
		ch.Fail("fields", "give records: or fields:, not both")
	case records:
		if ch.Has("count") {
			ch.Fail("count", "count: goes with fields:; records: emits its records once")
		}
	case !fields:
		ch.Fail("", "give records: (a list of records) or fields: (CEL expressions over i, the record's index) with an optional count:")
	}
}

// RecordType implements connector.Typed: with fields:, the records have
// those fields, of the types of their expressions.
func (c *GeneratorConfig) RecordType() (connector.RecordType, bool) {
	if c.Records != nil || len(c.Fields) == 0 {
		return connector.RecordType{}, false
	}
	t := connector.RecordType{From: "fields", Maker: "the generator"}
	for _, f := range c.Fields {
		typ, null := f.Expr.Type, false
		if n := len(typ); n > 0 && typ[n-1] == '?' {
			typ, null = typ[:n-1], true
		}
		t.Fields = append(t.Fields, connector.Field{Name: f.Name, Type: typ, Nullable: null})
	}
	return t, true
}

// ListedRecords implements connector.Listed.
func (c *GeneratorConfig) ListedRecords() (string, []connector.Record) {
	if c.Records == nil {
		return "", nil
	}
	return "records", c.Records
}

// Declare implements connector.Declarer.
func (c *GeneratorConfig) Declare(checkpointing bool) connector.Declaration {
	return (&Source[connector.Record]{}).Declare(checkpointing)
}

// NewSource implements connector.SourceConfig. A record an expression
// fails on is a bad record located at the expression's option
// (source.fields.NAME), its raw bytes {"i": index}.
func (c *GeneratorConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	if c.Records != nil {
		return Slice(c.Records, Rate(c.Rate)), nil
	}
	fields, name := c.Fields, ctx.Name()
	return GenerateOrReject(c.Count, func() (func(i int64) (connector.Record, *connector.BadRecord), error) {
		vars := connector.Record{} // this reader's only
		return func(i int64) (connector.Record, *connector.BadRecord) {
			vars["i"] = i
			rec := make(connector.Record, len(fields))
			for _, f := range fields {
				v, err := f.Expr.Eval(vars)
				if err != nil {
					return nil, &connector.BadRecord{Source: name, Location: "source.fields." + f.Name,
						Raw: fmt.Appendf(nil, `{"i":%d}`, i), Error: err.Error()}
				}
				rec[f.Name] = v
			}
			return rec, nil
		}, nil
	}, Rate(c.Rate)), nil
}
