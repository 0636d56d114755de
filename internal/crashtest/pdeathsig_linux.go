package crashtest

import "syscall"

// sysProcAttr makes the kernel kill a child when the parent dies (a test
// binary killed by its timeout), so that no child outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
