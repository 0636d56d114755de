package elasticsearch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
)

// RejectedError is the error of a document Elasticsearch refused for good
// (a status other than 429 and 5xx, and not one the sink counts as
// written): a field whose value conflicts with the index's mapping, an
// index that does not exist and is not created automatically, a write
// the user may not make. It fails the job (permanent): the sink has no
// dead-letter output. It wraps connector.ErrRejected when the refusal
// concerns the configuration (the index, the privileges) and
// connector.ErrBadRecord when it concerns the document.
type RejectedError struct {
	Sink   string // the sink's name
	Index  string
	ID     string // "" when Elasticsearch was to assign it
	Op     Op
	Status int
	Type   string // Elasticsearch's error type, e.g. document_parsing_exception
	Reason string
	Cause  string // caused_by, when given
}

func (e *RejectedError) Error() string {
	id := "(no id)"
	if e.ID != "" {
		id = fmt.Sprintf("%q", e.ID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: index %q, document id %s: %s refused with status %d: %s: %s", e.Sink, e.Index, id, e.Op, e.Status, e.Type, e.Reason)
	if e.Cause != "" {
		fmt.Fprintf(&b, " (caused by %s)", e.Cause)
	}
	b.WriteString(": ")
	b.WriteString(e.advice())
	return b.String()
}

func (e *RejectedError) advice() string {
	switch {
	case e.Type == "index_not_found_exception":
		return "the index does not exist and the cluster does not create it (action.auto_create_index is off, or an alias is required): create the index, or an index template for it, or allow auto-creation"
	case e.Status == 401:
		return "authentication refused: check the credentials (username/password, api_key or bearer_token)"
	case e.Status == 403:
		return "not allowed: grant the user the write privileges on the index (create_doc, index or write), or make the index writable"
	case e.Type == "invalid_index_name_exception":
		return "change the index (pattern or expression) to give valid names: lowercase, without \\ / * ? \" < > | space , # :, not starting with _ - +"
	case strings.Contains(e.Type, "parsing_exception") || strings.Contains(e.Type, "mapper"):
		return "the document does not fit the index's mapping: change the mapping or the records"
	}
	return "the job fails, since the sink has no dead-letter output"
}

// Unwrap returns connector.ErrRejected or connector.ErrBadRecord.
func (e *RejectedError) Unwrap() error {
	switch {
	case e.Status == 401 || e.Status == 403 || e.Status == 404 || e.Type == "invalid_index_name_exception":
		return connector.ErrRejected
	}
	return connector.ErrBadRecord
}

// productError is the official client's refusal of a server that does
// not identify itself as Elasticsearch.
const productError = "the client noticed that the server is not Elasticsearch"

func isProductError(err error) bool {
	return err != nil && strings.Contains(err.Error(), productError)
}

// errRetriesExhausted is wrapped by the error of actions that still failed
// after the configured retries: transient, so the job restarts from its
// latest checkpoint.
var errRetriesExhausted = errors.New("retries exhausted")
