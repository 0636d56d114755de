package restart

import "errors"

// Unrecoverable marks err as a failure that no restart can fix, such as a
// configuration error or a committer reporting that data may have been lost;
// no Strategy of this package restarts after it. The mark survives further
// wrapping (with %w or [errors.Join]) and does not change err's message.
// Unrecoverable(nil) is nil.
func Unrecoverable(err error) error {
	if err == nil {
		return nil
	}
	return &unrecoverableError{err: err}
}

// IsUnrecoverable reports whether err, or any error it wraps, was marked by
// [Unrecoverable].
func IsUnrecoverable(err error) bool {
	var u *unrecoverableError
	return errors.As(err, &u)
}

type unrecoverableError struct{ err error }

func (e *unrecoverableError) Error() string { return e.err.Error() }
func (e *unrecoverableError) Unwrap() error { return e.err }
