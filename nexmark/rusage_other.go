//go:build unix && !linux

package nexmark

import (
	"syscall"
	"time"
)

// usage returns the CPU time (user + system) the process has used and its
// peak resident set size as the system reports it (bytes on macOS).
func usage() (cpu time.Duration, peakRSS int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Maxrss)
}
