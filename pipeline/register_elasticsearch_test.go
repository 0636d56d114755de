package pipeline

import _ "github.com/sluicehq/sluice/connector/elasticsearch"
