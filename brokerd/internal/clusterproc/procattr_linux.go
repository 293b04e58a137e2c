package clusterproc

import "syscall"

// procAttr puts the broker in its own process group (signals to the
// harness's terminal group do not reach it; the harness signals the
// group) and has the kernel kill it if the process that started it dies,
// so a crashed test or a SIGKILLed dev-cluster leaves no broker behind.
//
// Pdeathsig fires when the starting OS thread exits, not the process; Go
// only ends threads of goroutines that exit while locked to one, which
// the harness never does.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
