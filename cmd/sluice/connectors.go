package main

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/pipeline"

	// Every built-in connector, linked in so that its init registers it
	// (TestEveryConnectorLinked checks the list).
	_ "github.com/sluicehq/sluice/internal/catalog"
)

func (a *app) connectors(args []string) int {
	fs := a.newFlagSet("connectors", "connectors")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(a.stderr, "sluice connectors: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	fmt.Fprint(a.stdout, connector.Table())
	fmt.Fprintf(a.stdout, "\nIn YAML pipelines: sources %s; sinks %s.\n",
		strings.Join(pipeline.SourceTypes(), ", "), strings.Join(pipeline.SinkTypes(), ", "))
	return exitOK
}
