package main

import _ "github.com/sluicehq/sluice/connector/elasticsearch"
