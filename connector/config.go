package connector

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// The registry of connectors for YAML pipelines, in the manner of
// database/sql.Register: a connector package registers its source and
// sink types from init, and a program that imports the package (its own
// included) can use them from YAML. The pipeline package knows no
// connector; it decodes a source's or sink's options into the typed
// configuration its type returns, strictly, reporting every mistake with
// its file, line and key, then builds the connector from it.
//
// # Configuration structs
//
// A configuration is a pointer to a struct holding the defaults. Each
// exported field with a yaml tag is an option, its key the tag's name; the
// order of the fields is the order in which the allowed keys are listed
// in messages. Field types:
//
//   - string (or a string type such as [Secret]), bool, int, int64,
//     float64
//   - time.Duration: "10s", "1m30s", "500ms" or 0, whole milliseconds
//   - []string: a list of strings, or one string as a list of one
//   - a struct, or a pointer to one (nil when the key is absent): a
//     mapping of its own options; a struct implementing [BoolForm] may
//     also be given as true or false
//   - map[string]string: a mapping of names to strings (enum applies to
//     each value)
//   - [Expr]: an expression over the records (CEL in YAML pipelines)
//   - []NamedExpr: a mapping of names to expressions, in the order written
//   - []Record: a list of records (mappings), their values YAML's
//
// Further tags:
//
//   - required:"hint": the key must be given (and a string not empty);
//     the hint says what to give
//   - enum:"a,b,c": the allowed values of a string
//   - min:"n", max:"n": bounds of a number or duration
//   - mapping:"names to values" on a map: what it maps, for messages
//   - expr:"index" on an Expr or []NamedExpr: the expressions are over
//     i, the index of the record to make (an int), instead of a record;
//     evaluate them with Eval(Record{"i": i})
//
// A type with Formats chooses its record format with the format: key; a
// configuration may hold the choice in a string field tagged
// yaml:"format", which YAML pipelines set. Of the formats, YAML pipelines
// decode (sources) and encode (sinks) json and text themselves; any other
// is the connector's own (e.g. the file connector's csv), and a source
// reading one says what its records are by implementing [Typed].
//
// After decoding, a configuration implementing [Checker] checks what
// tags cannot say (options that go together, files to read).

// Record is the record of YAML pipelines: a JSON-like map whose values
// are nil, bool, int64, float64, string, []any or map[string]any.
type Record = map[string]any

// SourceType is a source connector of YAML pipelines.
type SourceType struct {
	// Name is the value of source.type.
	Name string
	// Formats lists the record formats the source reads with
	// BuildContext.DecodeRecord, the first being the default: YAML
	// pipelines then accept format: and schema: for it. Empty: the source
	// takes no format.
	Formats []string
	// Config returns a new configuration holding the defaults.
	Config func() SourceConfig
	// Docs, when its Cases are given, is the type's row of the table of
	// connectors, registered with it (Name and Role are filled in).
	Docs Info
}

// SourceConfig is the decoded configuration of a source.
type SourceConfig interface {
	// Declarer declares the guarantee of the source so configured.
	Declarer
	// NewSource builds the source.
	NewSource(ctx BuildContext) (Source[Record], error)
}

// SinkType is a sink connector of YAML pipelines.
type SinkType struct {
	// Name is the value of sink.type.
	Name string
	// Formats lists the record formats the sink writes with
	// BuildContext.EncodeRecord, the first being the default; YAML
	// pipelines then accept format: for it. Empty: records are encoded as
	// JSON, and the sink takes no format:.
	Formats []string
	// Config returns a new configuration holding the defaults.
	Config func() SinkConfig
	// Docs, when its Cases are given, is the type's row of the table of
	// connectors, registered with it (Name and Role are filled in).
	Docs Info
}

// SinkConfig is the decoded configuration of a sink.
type SinkConfig interface {
	// Declarer declares the guarantee of the sink so configured.
	Declarer
	// NewSink builds the sink.
	NewSink(ctx BuildContext) (Sink[Record], error)
}

// Deduplicated is an optional capability of source configurations whose
// records are made exactly-once by their ids (messages a queue may
// deliver again: RabbitMQ, Pub/Sub). The source adds each record's id to
// the record under field; YAML pipelines route the records by that field
// to a keyed deduplication stage, which drops an id seen within horizon
// (at any parallelism), and remove the field after it. ok false: this
// configuration does not deduplicate.
type Deduplicated interface {
	DedupeBy() (field string, horizon time.Duration, ok bool)
}

// Typed is an optional capability of source configurations that know the
// fields of their records (a CSV file's columns, a generator's
// expressions): YAML pipelines check the expressions over them when the
// file is loaded. ok false: not known (a schema: may say).
type Typed interface {
	RecordType() (t RecordType, ok bool)
}

// RecordType is what a source's configuration knows of its records.
type RecordType struct {
	// Fields are the fields of every record, in order.
	Fields []Field
	// From is the option the fields come from ("csv", "fields"), named in
	// messages ("their fields (from source.csv)").
	From string
	// Maker names the source in messages about a schema: that disagrees
	// with the fields, e.g. "the generator" (default "the source").
	Maker string
	// NoSchema, when not empty, refuses a schema: with this message (the
	// fields are declared elsewhere); otherwise a schema: must agree with
	// Fields, and YAML pipelines check each record against it.
	NoSchema string
}

// Field is a field of the records and the type of its values: string,
// int, double, bool, list, map or any.
type Field struct {
	Name     string
	Type     string
	Nullable bool // the value may also be null
}

// Listed is an optional capability of source configurations whose
// records are written in the file (a collection's records:): YAML
// pipelines check them against the source's schema: when the file is
// loaded, each at its item of the option key.
type Listed interface {
	ListedRecords() (key string, records []Record)
}

// Checker is implemented by configurations that check what their tags
// cannot say. Check reports every mistake to c.
type Checker interface {
	Check(c ConfigCheck)
}

// ConfigCheck receives the mistakes of a configuration. Keys are the
// dotted paths of options inside the configuration ("topic",
// "tls.ca_file"), with [n] for an item of a list ("csv.columns[2]").
type ConfigCheck interface {
	// Fail reports a mistake of the option at key: at its value, or at
	// the mapping that should hold it when it is absent. Key "" is the
	// configuration itself (a mistake of no one option).
	Fail(key, format string, args ...any)
	// FailAt reports a mistake of the option at key at the value of the
	// option at blame (e.g. a missing key_file at the cert_file that
	// needs it).
	FailAt(blame, key, format string, args ...any)
	// Has reports whether the option at key was given.
	Has(key string) bool
	// Bad reports whether a mistake was reported about the value of one of
	// the options at keys: a check that combines their values is then
	// skipped, since it would see defaults instead of what was written.
	Bad(keys ...string) bool
}

// BoolForm is implemented by configuration structs that may also be
// given as true or false (tls: true).
type BoolForm interface {
	// SetBool sets the configuration given as on.
	SetBool(on bool)
	// BoolHint says what may be given, for the message about a scalar
	// that is not a boolean, e.g. "use true, false, or a mapping".
	BoolHint() string
}

// BuildContext is what a source or sink of a YAML pipeline is built
// with.
type BuildContext interface {
	// Name is the name of the source or sink in the job.
	Name() string
	// ID is a stable identifier of the source or sink within the job,
	// e.g. "source" or "branches-0-sink".
	ID() string
	// Job is the job's name.
	Job() string
	// Logger is the job's logger.
	Logger() *slog.Logger
	// Checkpoints returns the job's checkpoint interval (0: none) and
	// timeout (0: the default).
	Checkpoints() (interval, timeout time.Duration)
	// Stdout is where output meant for the terminal goes.
	Stdout() io.Writer
	// DecodeRecord decodes one record in the source's format (format:,
	// checked against schema:). Sources only.
	DecodeRecord(b []byte) (Record, error)
	// EncodeRecord encodes a record in the sink's format. Sinks only.
	EncodeRecord(r Record) ([]byte, error)
}

// Expr is an option whose value is an expression over records (CEL in
// YAML pipelines), such as a sink's key. A field name alone is an
// expression too. The zero Expr is absent.
type Expr struct {
	// Source is the expression as written.
	Source string
	// Type is the type of its values where the decoder knows it (see
	// Field; "any" otherwise), e.g. to declare the fields a generator
	// makes.
	Type string
	eval func(Record) (any, error)
}

// NamedExpr is an item of a []NamedExpr option: a name (a field of the
// records to make) and its expression.
type NamedExpr struct {
	Name string
	Expr Expr
}

// NewExpr returns the Expr of source, evaluated by eval. It is called by
// the decoder of the configuration.
func NewExpr(source string, eval func(Record) (any, error)) Expr {
	return Expr{Source: source, Type: "any", eval: eval}
}

// IsSet reports whether the option was given.
func (e Expr) IsSet() bool { return e.eval != nil }

// Eval evaluates the expression over r.
func (e Expr) Eval(r Record) (any, error) {
	if e.eval == nil {
		return nil, fmt.Errorf("expression %q was not compiled", e.Source)
	}
	return e.eval(r)
}

// Secret is a string option whose value is never shown: it prints as
// asterisks, and messages about it do not quote it.
type Secret string

// String returns asterisks.
func (Secret) String() string { return "********" }

// GoString returns asterisks.
func (Secret) GoString() string { return `"********"` }

var (
	typesMu     sync.Mutex
	sourceTypes = map[string]SourceType{}
	sinkTypes   = map[string]SinkType{}
)

// RegisterSource makes a source type available to YAML pipelines, and
// adds its Docs to the table of connectors. Connector packages call it
// from init; a duplicate name or a nil
// Config panics.
func RegisterSource(t SourceType) {
	registerType(sourceTypes, "source", t.Name, t.Config != nil, t.Docs, t)
}

// RegisterSink makes a sink type available to YAML pipelines, and adds
// its Docs to the table of connectors. Connector packages call it from
// init; a duplicate name or a nil Config panics.
func RegisterSink(t SinkType) {
	registerType(sinkTypes, "sink", t.Name, t.Config != nil, t.Docs, t)
}

// registerType adds t to types under name, and its docs to the table of
// connectors.
func registerType[T any](types map[string]T, role, name string, hasConfig bool, docs Info, t T) {
	typesMu.Lock()
	defer typesMu.Unlock()
	if !hasConfig || name == "" {
		panic("connector: " + role + " type registered without a name or Config")
	}
	if _, dup := types[name]; dup {
		panic("connector: " + role + " type " + name + " registered twice")
	}
	types[name] = t
	if len(docs.Cases) > 0 {
		docs.Name, docs.Role = name, role
		Register(docs)
	}
}

// LookupSource returns the registered source type name.
func LookupSource(name string) (SourceType, bool) {
	typesMu.Lock()
	defer typesMu.Unlock()
	t, ok := sourceTypes[name]
	return t, ok
}

// LookupSink returns the registered sink type name.
func LookupSink(name string) (SinkType, bool) {
	typesMu.Lock()
	defer typesMu.Unlock()
	t, ok := sinkTypes[name]
	return t, ok
}

// SourceTypeNames returns the names of the registered source types, sorted.
func SourceTypeNames() []string {
	typesMu.Lock()
	defer typesMu.Unlock()
	return sortedNames(sourceTypes)
}

// SinkTypeNames returns the names of the registered sink types, sorted.
func SinkTypeNames() []string {
	typesMu.Lock()
	defer typesMu.Unlock()
	return sortedNames(sinkTypes)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Suggest returns ` (did you mean "x"?)` for the allowed name x closest to
// name (by edit distance, ignoring case, at most 2), or "": the hint of
// messages about a misspelt key or value.
func Suggest(name string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(name), strings.ToLower(a)); d < bestD {
			best, bestD = a, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
