//go:build !linux

package clusterproc

import "syscall"

// procAttr puts the broker in its own process group; see the Linux
// version for why.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
