//go:build !linux

package compare

import "syscall"

func childProcAttr() *syscall.SysProcAttr { return nil }
