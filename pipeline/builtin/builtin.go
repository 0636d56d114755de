// Package builtin registers the connectors that need no external system
// library for YAML pipelines: the generator (collection), file, socket
// and stdout source and sink types. A Go program that loads pipelines
// imports it for its side effect, beside any other connector package it
// uses:
//
//	import (
//		_ "github.com/sluicehq/sluice/connector/kafka"   // type: kafka
//		_ "github.com/sluicehq/sluice/pipeline/builtin" // generator, file, socket, stdout
//	)
//
// Package pipeline itself knows no connector (see package connector,
// "The registry").
package builtin

import (
	_ "github.com/sluicehq/sluice/connector/collection" // type: generator, collection
	_ "github.com/sluicehq/sluice/connector/file"       // type: file
	_ "github.com/sluicehq/sluice/connector/socket"     // type: socket
	_ "github.com/sluicehq/sluice/connector/stdout"     // type: stdout
)
