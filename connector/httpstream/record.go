package httpstream

import (
	"github.com/sluicehq/sluice/connector"
)

// decodeJSONRecord decodes a message of a YAML pipeline's httpstream
// source, a JSON object, into a record, as YAML pipelines decode JSON
// records.
func decodeJSONRecord(b []byte) (connector.Record, error) { return connector.DecodeJSONRecord(b) }
