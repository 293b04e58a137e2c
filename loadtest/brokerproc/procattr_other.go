//go:build !linux

package brokerproc

import "syscall"

// childProcAttr has no parent-death signal outside Linux; Stop is the only
// way the broker is ended there.
func childProcAttr() *syscall.SysProcAttr { return nil }

func clusterProcAttr() *syscall.SysProcAttr { return nil }
