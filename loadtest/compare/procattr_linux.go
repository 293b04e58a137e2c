package compare

import "syscall"

// childProcAttr makes the kernel kill a broker if this process dies, so
// an interrupted comparison leaves no JVM behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// clusterProcAttr makes the kernel send SIGTERM to kafki-dev-cluster if
// this process dies: SIGTERM, not SIGKILL, so it still stops its brokers
// and its moto_server rather than leaving moto behind.
func clusterProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
