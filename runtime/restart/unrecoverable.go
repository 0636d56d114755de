package restart

import "github.com/sluicehq/sluice/connector"

// Unrecoverable marks err as a failure that no restart can fix; it is
// [connector.Permanent], the one classification of failures (see the
// connector package). No Strategy of this package restarts after such an
// error. Unrecoverable(nil) is nil.
func Unrecoverable(err error) error { return connector.Permanent(err) }

// IsUnrecoverable reports whether err will fail again on retry; it is
// [connector.IsPermanent]: marked by [Unrecoverable] or
// [connector.Permanent], or wrapping one of connector's permanent sentinel
// errors (a bad record, data loss, a target's rejection, a configuration
// error).
func IsUnrecoverable(err error) bool { return connector.IsPermanent(err) }
