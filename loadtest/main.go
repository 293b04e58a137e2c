package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes of Main.
const (
	ExitOK      = 0
	ExitFailure = 1 // the run failed or could not start
	ExitUsage   = 2 // bad options
)

// Main runs "loadtest WORKLOAD [flags]" and returns the exit code. args
// excludes the program name. The summary goes to stdout; progress lines
// and the one-line error to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseArgs(args, os.Getenv, stdout)
	switch {
	case IsHelp(err):
		return ExitOK
	case err != nil:
		msg := strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ")
		fmt.Fprintf(stderr, "loadtest: %s (see 'loadtest --help')\n", OneLine(msg))
		return ExitUsage
	}
	rep, runErr := Run(ctx, cfg, stderr)
	if rep != nil && (rep.Produce != nil || rep.Consume != nil) {
		fmt.Fprintln(stdout)
		runErr = errors.Join(runErr, WriteSummary(stdout, rep))
		if cfg.JSONPath != "" {
			runErr = errors.Join(runErr, WriteJSON(cfg.JSONPath, rep))
		}
		if cfg.SVGPath != "" {
			runErr = errors.Join(runErr, WriteSVGFile(cfg.SVGPath, rep))
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "loadtest: %s\n", OneLine(runErr.Error()))
		return ExitFailure
	}
	return ExitOK
}

// OneLine joins a possibly multi-line error message into one line.
func OneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
