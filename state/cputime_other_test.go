//go:build !linux

package state

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
