package connector

import "errors"

// Failure classification.
//
// Every error that fails a job is either transient (a retry may help: a
// network error, a timeout, throttling, a broker that restarted, a killed
// process) or permanent (it will fail again on every retry: a bad record
// without a dead-letter output, configuration the target rejects, corrupt
// checkpoint data, detected data loss). The runtime restarts a job only
// after a transient failure; a permanent one ends the job at once with its
// message, which must therefore say what failed, where (file and line,
// topic, index, checkpoint path) and what to change.
//
// An error is permanent when [IsPermanent] says so: it, or an error it
// wraps, was marked with [Permanent], or it wraps one of [ErrBadRecord],
// [ErrDataLoss], [ErrRejected] or [ErrConfig]. Every other error is
// treated as transient. Connectors mark their errors where they are
// detected, for example:
//
//	return connector.Permanent(fmt.Errorf("kafka sink: topic %q does not exist: create it or set create_topic", topic))
//	return fmt.Errorf("elasticsearch sink: index %q: %w: authentication refused (check ES_API_KEY)", idx, connector.ErrRejected)
//
// A transient failure that keeps coming back is not retried forever
// either: the runtime ends a job that fails the same way from the same
// checkpoint several times in a row (runtime.Config.MaxRepeatedFailures).

// ErrDataLoss is wrapped by errors that mean records that were part of a
// completed checkpoint may not reach the target (for example an expired
// transaction). Such an error is permanent: it fails the job and is never
// retried silently.
var ErrDataLoss = errors.New("data may be lost")

// ErrOutputAhead is wrapped by errors of an exactly-once sink asked to
// resume from a checkpoint older than output it already committed (a
// restore of an older checkpoint or savepoint, or a fallback past a corrupt
// checkpoint): going on would deliver that output again. Such an error is
// permanent; the user decides (restore a newer checkpoint, remove the
// output, or start over).
var ErrOutputAhead = errors.New("output was committed past the restored checkpoint")

// ErrRejected is wrapped by errors that mean the external system refused
// what the job's configuration asks of it, and will refuse it again: a
// topic, index, queue or table that does not exist, authentication or
// authorization refused, a request the target calls invalid. Such an error
// is permanent; its message names the setting to change.
var ErrRejected = errors.New("rejected by the target system")

// ErrConfig is wrapped by errors about a connector configuration that
// cannot work (found by the connector itself, before or while it runs).
// Such an error is permanent.
var ErrConfig = errors.New("invalid connector configuration")

// Permanent marks err as a failure that no retry can fix: the job ends at
// once instead of restarting. The mark survives further wrapping (with %w
// or [errors.Join]) and does not change err's message. Permanent(nil) is
// nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err will fail again on retry: err or an error
// it wraps was marked with [Permanent], or wraps [ErrBadRecord],
// [ErrDataLoss], [ErrOutputAhead], [ErrRejected] or [ErrConfig].
// IsPermanent(nil) is false.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var p *permanentError
	return errors.As(err, &p) || errors.Is(err, ErrBadRecord) || errors.Is(err, ErrDataLoss) ||
		errors.Is(err, ErrOutputAhead) || errors.Is(err, ErrRejected) || errors.Is(err, ErrConfig)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
