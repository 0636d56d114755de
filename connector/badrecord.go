package connector

import (
	"errors"
	"fmt"
)

// BadRecord is input a source could not decode (or a sink's target
// refused for good). It is never dropped silently: by default it fails the
// job with its location; with a dead-letter output configured it goes
// there.
type BadRecord struct {
	// Source names the connector instance, e.g. "file-source".
	Source string `json:"source"`
	// Location says where the record is: "path/to/file.jsonl:17",
	// "topic/3@1042".
	Location string `json:"location"`
	// Raw is the undecoded record (possibly truncated by the connector).
	Raw []byte `json:"raw,omitempty"`
	// Error says what is wrong with it.
	Error string `json:"error"`
}

// ErrBadRecord is wrapped by the error that fails a job on a bad record
// when no dead-letter output is configured.
var ErrBadRecord = errors.New("bad record")

// BadRecordError is the job error for a bad record without a dead-letter
// output.
type BadRecordError struct{ Record BadRecord }

func (e *BadRecordError) Error() string {
	return fmt.Sprintf("bad record at %s: %s (route bad records to a dead-letter output to keep the job running)", e.Record.Location, e.Record.Error)
}

func (e *BadRecordError) Unwrap() error { return ErrBadRecord }
