//go:build linux

package kinesis

import (
	"os/exec"
	"syscall"
)

// emuSysProcAttr kills the emulator with the test process (Linux), so that
// a test binary that dies does not leave node running.
func emuSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
