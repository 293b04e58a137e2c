package brokerproc

import "syscall"

// childProcAttr makes the kernel kill a spawned broker if the process
// that spawned it dies
// without stopping it (e.g. SIGKILL), so no broker is left running with a
// temporary data directory nobody will remove.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// clusterProcAttr makes the kernel send SIGTERM to kafki-dev-cluster if
// the process that started it dies: SIGTERM, not SIGKILL, so it still
// stops its brokers and its moto_server rather than leaving moto behind.
func clusterProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
