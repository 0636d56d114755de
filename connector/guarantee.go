package connector

import "fmt"

// Guarantee is a delivery guarantee. The order matters: a weaker guarantee
// is smaller.
type Guarantee uint8

const (
	// NoGuarantee is the zero value: not declared.
	NoGuarantee Guarantee = iota
	// AtMostOnce: records may be lost on failure, never duplicated.
	AtMostOnce
	// AtLeastOnce: no record is lost; records may be repeated after a failure.
	AtLeastOnce
	// ExactlyOnce: every record's effect is visible exactly once.
	ExactlyOnce
)

func (g Guarantee) String() string {
	switch g {
	case AtMostOnce:
		return "at-most-once"
	case AtLeastOnce:
		return "at-least-once"
	case ExactlyOnce:
		return "exactly-once"
	case NoGuarantee:
		return "none"
	}
	return fmt.Sprintf("guarantee(%d)", uint8(g))
}

// Declaration is what a connector promises for its configuration, and why.
type Declaration struct {
	Guarantee Guarantee
	// Reason explains the guarantee in terms of the configuration, e.g.
	// "transactional producer, one transaction per checkpoint".
	Reason string
}

// Declarer is implemented by sources and sinks to declare their guarantee
// for their configuration. checkpointing tells whether the job takes
// checkpoints.
type Declarer interface {
	Declare(checkpointing bool) Declaration
}
