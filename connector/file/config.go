package file

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/connector"
)

// The file source and sink of YAML pipelines (type: file): JSON lines,
// text lines or CSV rows.

func init() {
	connector.RegisterSource(connector.SourceType{Name: "file", Formats: []string{"json", "text", "csv"},
		Config: func() connector.SourceConfig { return &SourceConfig{} },
		Docs: connector.Info{System: "files and directories (text lines, CSV, JSON lines, gzip)",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints: file and offset of the next record are state; continuous monitoring of a directory"},
				{Guarantee: connector.AtLeastOnce, When: "without checkpoints: a restart reads every file again"},
			}, Test: "local filesystem, conformance suite with SIGKILL (bounded and continuous)"}})
	connector.RegisterSink(connector.SinkType{Name: "file", Formats: []string{"json", "csv"},
		Config: func() connector.SinkConfig {
			p := DefaultRollingPolicy()
			return &SinkConfig{MaxPartSize: p.MaxSize, MaxPartAge: p.MaxAge, Inactivity: p.Inactivity, Buckets: "none"}
		},
		Docs: connector.Info{System: "files (text, JSON lines, CSV, Parquet), bucketed",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints: hidden in-progress files, pending on the barrier, renamed visible when the checkpoint completes"},
				{Guarantee: connector.AtLeastOnce, When: "without checkpoints: everything becomes visible only at end of input"},
			}, Test: "local filesystem, conformance suite, SIGKILL torture test"}})
}

// SourceConfig is the configuration of the file source of YAML pipelines;
// see package connector for the meaning of its tags.
type SourceConfig struct {
	Path string `yaml:"path" required:"the file or directory to read, e.g. path: ./in"`
	// Format is json (one object per line, blank lines skipped), text
	// (each line a record {"line": "..."}) or csv (with CSV).
	Format            string           `yaml:"format"`
	CSV               *CSVSourceConfig `yaml:"csv"`
	MonitorInterval   time.Duration    `yaml:"monitor_interval" min:"0"`
	Recursive         bool             `yaml:"recursive"`
	MaxRecordSize     int              `yaml:"max_record_size" min:"1"`
	LateFileTolerance time.Duration    `yaml:"late_file_tolerance" min:"0"`
}

const columnsHint = "the record fields of the columns, in order, e.g. columns: [id, user, amount]"

// CSVSourceConfig is the csv: option of the file source: the columns of
// the rows and the dialect.
type CSVSourceConfig struct {
	Columns []string `yaml:"columns" required:"the record fields of the columns, in order, e.g. columns: [id, user, amount] (a header line is not read for names: a job restored in the middle of a file never sees it)"`
	Header  bool     `yaml:"header"`
	// Comma is the field delimiter, one character (default ",").
	Comma string `yaml:"comma"`
	// Comment starts lines that are skipped (default: none).
	Comment string `yaml:"comment"`
	// Types maps columns to string (the default), int, float or bool.
	Types map[string]string `yaml:"types" enum:"string,int,float,bool" mapping:"columns to types (string, int, float, bool), e.g. types: {id: int, amount: float}"`
}

// CSVSinkConfig is the csv: option of the file sink.
type CSVSinkConfig struct {
	Columns []string `yaml:"columns" required:"the record fields of the columns, in order, e.g. columns: [id, user, amount]"`
	Header  bool     `yaml:"header"`
	Comma   string   `yaml:"comma"`
}

// checkFormat checks that csv: is given with format: csv, and only then.
func checkFormat(c connector.ConfigCheck, format string) bool {
	if c.Bad("format") {
		return false // whether csv: belongs is not known
	}
	switch {
	case format != "csv" && c.Has("csv"):
		c.Fail("csv", "goes with format: csv")
	case format == "csv" && !c.Has("csv"):
		c.Fail("csv", "missing; format: csv needs csv: with columns: (%s)", columnsHint)
	default:
		return format == "csv"
	}
	return false
}

// checkColumns checks the columns of csv:.
func checkColumns(c connector.ConfigCheck, columns []string) {
	if c.Bad("csv.columns") {
		return
	}
	if c.Has("csv.columns") && len(columns) == 0 {
		c.Fail("csv.columns", "is empty; %s", columnsHint)
	}
	for i, col := range columns {
		key := fmt.Sprintf("csv.columns[%d]", i)
		switch {
		case strings.TrimSpace(col) == "":
			c.Fail(key, "must not be empty; %s", columnsHint)
		case slices.Contains(columns[:i], col):
			c.Fail(key, "%q is listed twice; each column is a different field", col)
		}
	}
}

// delimiter returns the one character of the option at key (def when
// absent), reporting any other value.
func delimiter(c connector.ConfigCheck, key, s string, def rune) rune {
	if !c.Has(key) || c.Bad(key) {
		return def
	}
	r, size := utf8.DecodeRuneInString(s)
	if s == "" || size != len(s) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		c.Fail(key, "%q is not allowed; use one character other than a quote or a line break, e.g. \",\", \";\" or \"\\t\" (in double quotes) for a tab", s)
		return def
	}
	return r
}

// Check implements connector.Checker.
func (s *SourceConfig) Check(c connector.ConfigCheck) {
	if !checkFormat(c, s.Format) || s.CSV == nil {
		return
	}
	checkColumns(c, s.CSV.Columns)
	comma := delimiter(c, "csv.comma", s.CSV.Comma, ',')
	comment := delimiter(c, "csv.comment", s.CSV.Comment, 0)
	if comment != 0 && comment == comma && !c.Bad("csv.comma", "csv.comment") {
		c.Fail("csv.comment", "must differ from comma")
	}
	for col := range s.CSV.Types {
		if !slices.Contains(s.CSV.Columns, col) {
			c.Fail("csv.types."+col, "not one of the columns%s; columns: %s", connector.Suggest(col, s.CSV.Columns), strings.Join(s.CSV.Columns, ", "))
		}
	}
}

// spec returns the layout of the CSV files, nil without csv:.
func (s *SourceConfig) spec() *csvSpec {
	if s.Format != "csv" || s.CSV == nil {
		return nil
	}
	cs := s.CSV
	spec := &csvSpec{header: cs.Header, comma: firstRune(cs.Comma, ','), comment: firstRune(cs.Comment, 0)}
	for _, col := range cs.Columns {
		typ := cs.Types[col]
		if typ == "" {
			typ = "string"
		}
		spec.columns = append(spec.columns, csvColumn{name: col, typ: typ})
	}
	return spec
}

func firstRune(s string, def rune) rune {
	if s == "" {
		return def
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// RecordType implements connector.Typed: the records of a CSV source have
// its columns, of their types; an empty field of a column that is not a
// string is null.
func (s *SourceConfig) RecordType() (connector.RecordType, bool) {
	spec := s.spec()
	if spec == nil {
		return connector.RecordType{}, false
	}
	t := connector.RecordType{From: "csv",
		NoSchema: "a csv source's fields are its csv columns, of the types in csv.types; declare the types there"}
	for _, c := range spec.columns {
		typ := c.typ
		if typ == "float" {
			typ = "double"
		}
		t.Fields = append(t.Fields, connector.Field{Name: c.name, Type: typ, Nullable: c.typ != "string"})
	}
	return t, true
}

func (s *SourceConfig) options(name string) []SourceOption {
	opts := []SourceOption{SourceName(name)}
	if s.MonitorInterval > 0 {
		opts = append(opts, Continuous(s.MonitorInterval))
	}
	if s.Recursive {
		opts = append(opts, Recursive())
	}
	if s.MaxRecordSize > 0 {
		opts = append(opts, MaxRecordSize(s.MaxRecordSize))
	}
	if s.LateFileTolerance > 0 {
		opts = append(opts, LateFileTolerance(s.LateFileTolerance))
	}
	return opts
}

// Declare implements connector.Declarer.
func (s *SourceConfig) Declare(checkpointing bool) connector.Declaration {
	return NewSource[connector.Record](s.Path, nil, s.options("file")...).Declare(checkpointing)
}

// NewSource implements connector.SourceConfig: JSON and text lines are
// decoded by ctx (JSON's blank lines skipped), CSV rows by the columns.
func (s *SourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	var format Format[connector.Record]
	switch s.Format {
	case "csv":
		spec := s.spec()
		if spec == nil {
			return nil, fmt.Errorf("file source %s: format csv without csv columns", s.Path)
		}
		format = newCSVRecordFormat(spec)
	case "text":
		format = LineFormat(ctx.DecodeRecord)
	default:
		format = LineFormat(func(line []byte) (connector.Record, error) {
			if len(bytes.TrimSpace(line)) == 0 {
				return nil, ErrSkip
			}
			return ctx.DecodeRecord(line)
		})
	}
	return NewSource(s.Path, format, s.options(ctx.Name())...), nil
}

// SinkConfig is the configuration of the file sink of YAML pipelines.
type SinkConfig struct {
	Path string `yaml:"path" required:"the directory to write part files into, e.g. path: ./out"`
	// Format is json (one object per line, keys sorted) or csv (with CSV).
	Format       string         `yaml:"format"`
	CSV          *CSVSinkConfig `yaml:"csv"`
	PartPrefix   string         `yaml:"part_prefix"`
	MaxPartSize  int64          `yaml:"max_part_size" min:"1"`
	MaxPartAge   time.Duration  `yaml:"max_part_age" min:"0"`
	Inactivity   time.Duration  `yaml:"inactivity" min:"0"`
	Buckets      string         `yaml:"buckets" enum:"none,processing_time,event_time,field"`
	BucketLayout string         `yaml:"bucket_layout"`
	// BucketField, with buckets: field, names each record's bucket (its
	// value as text).
	BucketField connector.Expr `yaml:"bucket_field"`
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) {
	if p := s.PartPrefix; p != "" && (strings.HasPrefix(p, ".") || strings.HasPrefix(p, "_") || strings.ContainsAny(p, "/\\")) {
		c.Fail("part_prefix", "%q must not start with . or _ nor contain a slash", p)
	}
	switch {
	case s.Buckets == "field" && !c.Has("bucket_field"):
		c.Fail("bucket_field", "missing; buckets: field needs bucket_field: (a field name or CEL expression)")
	case s.Buckets != "field" && c.Has("bucket_field") && !c.Bad("buckets"):
		c.Fail("bucket_field", "bucket_field goes with buckets: field")
	}
	if checkFormat(c, s.Format) && s.CSV != nil {
		checkColumns(c, s.CSV.Columns)
		delimiter(c, "csv.comma", s.CSV.Comma, ',')
	}
}

func (s *SinkConfig) encoder(ctx connector.BuildContext) Encoder[connector.Record] {
	if s.Format == "csv" && s.CSV != nil {
		spec := &csvSpec{header: s.CSV.Header, comma: firstRune(s.CSV.Comma, ',')}
		for _, col := range s.CSV.Columns {
			spec.columns = append(spec.columns, csvColumn{name: col, typ: "string"})
		}
		return csvRecordEncoder(spec)
	}
	return RowEncoder(".jsonl", nil, func(dst []byte, r connector.Record) ([]byte, error) {
		j, err := ctx.EncodeRecord(r)
		if err != nil {
			return dst, err
		}
		dst = append(dst, j...)
		return append(dst, '\n'), nil
	})
}

func (s *SinkConfig) options() []SinkOption {
	opts := []SinkOption{Rolling(RollingPolicy{MaxSize: s.MaxPartSize, MaxAge: s.MaxPartAge, Inactivity: s.Inactivity})}
	if s.PartPrefix != "" {
		opts = append(opts, PartPrefix(s.PartPrefix))
	}
	switch s.Buckets {
	case "processing_time":
		opts = append(opts, Buckets(ByProcessingTime[connector.Record](s.BucketLayout, nil)))
	case "event_time":
		opts = append(opts, Buckets(ByEventTime[connector.Record](s.BucketLayout, nil)))
	case "field":
		e := s.BucketField
		opts = append(opts, Buckets(BucketFunc[connector.Record](func(r connector.Record, _ int64, _ time.Time) (string, error) {
			v, err := e.Eval(r)
			if err != nil {
				return "", err
			}
			return fmt.Sprint(v), nil
		})))
	}
	return opts
}

// Declare implements connector.Declarer.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	return NewSink[connector.Record](s.Path, nil, s.options()...).Declare(checkpointing)
}

// NewSink implements connector.SinkConfig.
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	return NewSink(s.Path, s.encoder(ctx), s.options()...), nil
}
