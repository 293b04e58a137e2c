package compare

import "syscall"

// childProcAttr makes the kernel kill a broker if this process dies, so
// an interrupted comparison leaves no JVM behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
