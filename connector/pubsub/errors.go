package pubsub

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicehq/sluice/connector"
)

// classify returns err with what to change, wrapping connector.ErrRejected
// when Pub/Sub refused the request in a way no retry can fix: the resource
// (what: `subscription "projects/p/subscriptions/s"`) does not exist, the
// credentials are refused or lack a permission, or the request is
// invalid. Every other error is returned as it is (a retry may help).
func classify(err error, what, role string) error {
	if err == nil {
		return nil
	}
	var hint string
	switch status.Code(err) {
	case codes.NotFound:
		hint = what + " does not exist: create it, or correct the name and project"
	case codes.PermissionDenied:
		hint = "permission denied on " + what + ": grant the job's credentials " + role
	case codes.Unauthenticated:
		hint = "the credentials were refused: check application default credentials or the credentials file"
	case codes.InvalidArgument:
		hint = "Pub/Sub calls the request for " + what + " invalid"
	case codes.FailedPrecondition:
		hint = "Pub/Sub refuses the request for " + what + " in its present state (a detached subscription, a topic whose schema rejects the messages)"
	default:
		return err
	}
	return fmt.Errorf("%w (%w: %s)", err, connector.ErrRejected, hint)
}

// transient reports whether err may go away on retry: not a refusal
// (classify) and not the end of the context.
func transient(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return !connector.IsPermanent(classify(err, "", ""))
}
