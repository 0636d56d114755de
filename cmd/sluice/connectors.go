package main

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/pipeline"

	// Every connector package, linked in so that its init registers it
	// in the connector table (TestEveryConnectorLinked checks the list).
	_ "github.com/sluicehq/sluice/connector/cassandra"
	_ "github.com/sluicehq/sluice/connector/collection"
	_ "github.com/sluicehq/sluice/connector/elasticsearch"
	_ "github.com/sluicehq/sluice/connector/file"
	_ "github.com/sluicehq/sluice/connector/httpstream"
	_ "github.com/sluicehq/sluice/connector/kafka"
	_ "github.com/sluicehq/sluice/connector/kinesis"
	_ "github.com/sluicehq/sluice/connector/pubsub"
	_ "github.com/sluicehq/sluice/connector/rabbitmq"
	_ "github.com/sluicehq/sluice/connector/redis"
	_ "github.com/sluicehq/sluice/connector/socket"
	_ "github.com/sluicehq/sluice/connector/stdout"
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
