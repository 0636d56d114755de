package nexmark

import "github.com/sluicehq/sluice/connector/collection"

// The names the source's tests use for the parts of the collection source
// that Source is built on.
type (
	splitCodec = collection.SplitCodec
	reader     = collection.Reader[Event]
)
