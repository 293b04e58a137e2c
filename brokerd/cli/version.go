package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is kafki's release version. It is a constant (not a variable set
// with -ldflags) so the package holds no mutable state.
const Version = "0.1.0-dev"

// runVersion prints kafki's version, the Go toolchain and the franz-go
// client version it was built with.
func runVersion(args []string, env Env) error {
	c := newCommand("version", "version", "Print kafki's version.", "  kafki version")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	franz := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/twmb/franz-go" {
				franz = dep.Version
			}
		}
	}
	_, err := fmt.Fprintf(env.Stdout, "kafki %s (%s, franz-go %s)\n", Version, runtime.Version(), franz)
	return err
}
