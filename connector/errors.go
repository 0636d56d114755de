package connector

import "errors"

// ErrDataLoss is wrapped by errors that mean records that were part of a
// completed checkpoint may not reach the target (for example an expired
// transaction). Such an error fails the job and is never retried silently.
var ErrDataLoss = errors.New("data may be lost")
