//go:build !linux

package crashtest

import "syscall"

// sysProcAttr: without Pdeathsig, a child whose parent died stops at the
// deadline the parent gave it.
func sysProcAttr() *syscall.SysProcAttr { return nil }
