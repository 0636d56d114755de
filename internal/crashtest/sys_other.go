//go:build !unix

package crashtest

import (
	"os"
)

// The harness needs SIGKILL and wait statuses; Run skips elsewhere.
const supported = false

func selfKill() { os.Exit(137) }

func killedBySIGKILL(error) bool { return false }

func quit(p *os.Process) error { return p.Kill() }
