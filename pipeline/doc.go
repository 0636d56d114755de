// Package pipeline runs sluice jobs described in YAML instead of Go: a
// source, steps (filter, map, key_by, running aggregates, windows,
// dedupe) with expressions in CEL, sinks, and the job's checkpoint and
// restart settings. README.md beside this file is the reference of every
// key.
//
// It sits beside package stream at the top of the layers: [Load] reads and
// validates a file into a [Pipeline], and [Build] turns it into a
// *stream.Env holding the same job graph the Go API builds, which the same
// runtime executes (cmd/sluice does both). Records are [Record] values:
// JSON-like maps whose integers stay int64.
//
// Every mistake in a file is reported with the file, line and key and
// what is allowed there (see [Error]); Load reports all of them at once,
// in the order of the file. CEL expressions are compiled at load time, so
// a syntax error never waits for the first record; they are type-checked
// against the fields of the records where those are known: a source's
// schema:, CSV columns, a generator's fields, the output of a map,
// aggregate or window step (schema.go). Where they are not, fields are
// dyn and their types are checked record by record.
//
// The YAML text is parsed with goccy/go-yaml into its AST, converted into
// a small tree that keeps positions (node.go), with ${VAR} and
// ${VAR:-default} interpolated in every scalar and plain scalars typed by
// the library (a scalar a variable changed is typed again from its text,
// by the library's rules), then decoded: the checkpoints: section and the
// options of sources and sinks strictly into typed structs, by their tags
// (config.go), the rest by hand (decode.go, spec.go, stepspec.go,
// sections.go, schema.go). Records that cross a network edge keep their
// types in the in-flight state of unaligned checkpoints (wire.go).
//
// # Connectors
//
// Package pipeline knows no connector: every source and sink type comes
// from the connector registry (connector.RegisterSource,
// connector.RegisterSink), and a program links a connector package to use
// its types. Package builtin links those that need no client library of
// an external system (generator/collection, file, socket, stdout):
//
//	import (
//		_ "github.com/sluicehq/sluice/connector/kafka"   // type: kafka
//		_ "github.com/sluicehq/sluice/pipeline/builtin" // generator, file, socket, stdout
//	)
//
// The options of a type are decoded into its typed configuration by its
// struct tags (config.go), with the same mistakes as every other key. What
// a configuration knows of its records (connector.Typed, connector.Listed)
// is checked against the source's schema: and types the expressions; a
// configuration that asks for deduplication (connector.Deduplicated)
// gets a keyed deduplication stage after the source (build.go). The
// sluice binary links every connector.
package pipeline
