//go:build !unix

package nexmark

import "time"

// usage is not available on this system: it reports zeros.
func usage() (cpu time.Duration, peakRSS int64) { return 0, 0 }
