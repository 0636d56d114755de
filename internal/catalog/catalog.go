// Package catalog links every built-in connector into a binary, so that
// their registrations (connector.Register) are present: the CLI's
// `sluice connectors`, the README's table and the YAML pipelines read the
// registry.
package catalog

import (
	"github.com/sluicehq/sluice/connector"

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
	_ "github.com/sluicehq/sluice/nexmark"
)

// Table is connector.Table with every built-in connector registered.
func Table() string { return connector.Table() }
