//go:build unix

package crashtest

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

const supported = true

// selfKill ends this process at once with SIGKILL, as a crash would: no
// deferred function, no buffered write, no cleanup runs.
func selfKill() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is delivered before this is reached
}

// killedBySIGKILL reports whether err (from exec.Cmd.Wait) says the process
// died of SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// quit asks a Go process to dump its goroutines and exit (SIGQUIT).
func quit(p *os.Process) error { return p.Signal(syscall.SIGQUIT) }
