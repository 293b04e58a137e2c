package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes returned by Main and Run.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Env is everything a command reads from or writes to outside its
// arguments. Passing it in (rather than using os.Stdin and friends
// directly) keeps the package free of global state and lets tests run
// commands concurrently.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up environment variables (KAFKI_BOOTSTRAP_SERVER). Nil
	// means no variable is set.
	Getenv func(string) string
}

// Main runs kafki with the process environment and returns the exit code.
// args excludes the program name. Cancelling ctx (on SIGINT/SIGTERM) makes
// a consumer stop cleanly and commit, and any other command stop waiting.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(ctx, args, Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv})
}

// Run is Main with an explicit environment.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	name, err := dispatch(ctx, args, env)
	return report(name, err, env.Stderr)
}

// report prints err as one line on stderr and maps it to an exit code.
func report(name string, err error, stderr io.Writer) int {
	prefix := "kafki"
	if name != "" {
		prefix += " " + name
	}
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return ExitOK
	case errors.Is(err, ErrUsage):
		hint := "kafki --help"
		if name != "" {
			hint = "kafki " + name + " --help"
		}
		fmt.Fprintf(stderr, "%s: %s (see '%s')\n", prefix, oneLine(err.Error()), hint)
		return ExitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s: interrupted\n", prefix)
		return ExitFailure
	default:
		fmt.Fprintf(stderr, "%s: %s\n", prefix, oneLine(err.Error()))
		return ExitFailure
	}
}

// topLevelHelp is printed by "kafki --help".
const topLevelHelp = `kafki: create topics, produce and consume records on any Kafka-compatible broker.

Usage: kafki <command> [flags]

Commands:
  topics create     Create a topic.
  topics list       List topic names.
  topics describe   Show partitions, leaders, replicas and configs of topics.
  topics delete     Delete a topic.
  topics alter      Add partitions or change configs of a topic.
  produce           Send each line of stdin as a record.
  consume           Print records of a topic to stdout.
  groups list       List consumer groups.
  groups describe   Show a group's offsets, lag and members.
  groups delete     Delete consumer groups.
  groups reset-offsets  Move a group's committed offsets.
  tier describe     List a tier's remote segments per partition.
  tier verify       Check a tier's objects against its metadata.
  cluster describe  Show brokers, the controller and every partition's leader and ISR.
  triggers create|list|describe|update|delete|enable|disable
                    Manage Lambda triggers (see lambdas/README.md).
  users create|list|delete
                    Manage SCRAM users (SASL), like kafka-configs.sh --entity-type users.
  transactions list|describe|describe-producers|abort
                    Inspect transactions and abort hanging ones, like kafka-transactions.sh.
  migrate plan      List what moving a Kafka cluster into Kafki takes: topics, partitions, configs.
  version           Print kafki's version.

Every command that talks to a broker takes --bootstrap-server host:port
(default localhost:9092, or $KAFKI_BOOTSTRAP_SERVER) and --timeout, and
logs in over SASL with --sasl-mechanism and --sasl-secret-file.
Run 'kafki <command> --help' for the flags and examples of a command.

Quickstart:
  kafki topics create --topic quickstart-events
  printf 'hello\nworld\n' | kafki produce --topic quickstart-events
  kafki consume --topic quickstart-events --from-beginning --max-messages 2
`

// topicsHelp is printed by "kafki topics --help".
const topicsHelp = `Usage: kafki topics <create|list|describe|delete|alter> [flags]

Manage topics, like kafka-topics.sh. Run 'kafki topics <subcommand> --help'
for the flags of each subcommand.
`

// dispatch finds the command named by args and runs it. It returns the
// command's name (for error prefixes) and its error.
func dispatch(ctx context.Context, args []string, env Env) (string, error) {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, topLevelHelp)
		return "", usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		if len(rest) > 0 {
			// "kafki help produce" is "kafki produce --help".
			return dispatch(ctx, append(append([]string{}, rest...), "--help"), env)
		}
		fmt.Fprint(env.Stdout, topLevelHelp)
		return "", nil
	case "version", "--version", "-version":
		return "version", runVersion(rest, env)
	case "produce":
		return "produce", runProduce(ctx, rest, env)
	case "consume":
		return "consume", runConsume(ctx, rest, env)
	}
	for _, g := range commandGroups {
		if g.name == cmd {
			return g.dispatch(ctx, rest, env)
		}
	}
	if strings.HasPrefix(cmd, "-") {
		return "", flagsFirst(args, "topics list")
	}
	return "", usagef("unknown command %q", cmd)
}

// commandGroup is a command with subcommands ("kafki topics create").
type commandGroup struct {
	name, help string
	subs       []subcommand
}

type subcommand struct {
	name string
	run  func(ctx context.Context, args []string, env Env) error
}

var commandGroups = []commandGroup{
	{"topics", topicsHelp, []subcommand{
		{"create", runTopicsCreate}, {"list", runTopicsList}, {"describe", runTopicsDescribe},
		{"delete", runTopicsDelete}, {"alter", runTopicsAlter},
	}},
	{"groups", groupsHelp, []subcommand{
		{"list", runGroupsList}, {"describe", runGroupsDescribe},
		{"delete", runGroupsDelete}, {"reset-offsets", runGroupsResetOffsets},
	}},
	{"tier", tierHelp, []subcommand{
		{"describe", func(ctx context.Context, args []string, env Env) error { return runTier(ctx, false, args, env) }},
		{"verify", func(ctx context.Context, args []string, env Env) error { return runTier(ctx, true, args, env) }},
	}},
	{"cluster", clusterHelp, []subcommand{{"describe", runClusterDescribe}}},
	{"triggers", triggersHelp, []subcommand{
		{"create", runTriggersCreate}, {"list", runTriggersList}, {"describe", runTriggersDescribe},
		{"update", runTriggersUpdate}, {"delete", runTriggersDelete},
		{"enable", runTriggersEnable(true)}, {"disable", runTriggersEnable(false)},
	}},
	{"users", usersHelp, []subcommand{{"create", runUsersCreate}, {"list", runUsersList}, {"delete", runUsersDelete}}},
	{"transactions", transactionsHelp, []subcommand{
		{"list", runTransactionsList}, {"describe", runTransactionsDescribe},
		{"describe-producers", runTransactionsDescribeProducers}, {"abort", runTransactionsAbort},
	}},
	{"migrate", migrateHelp, []subcommand{{"plan", runMigratePlan}}},
}

// dispatch runs the subcommand args names. It returns the command's name
// (for error prefixes) and its error.
func (g commandGroup) dispatch(ctx context.Context, args []string, env Env) (string, error) {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, g.help)
		return g.name, usagef("no subcommand given")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, g.help)
		return g.name, nil
	}
	for _, s := range g.subs {
		if s.name == sub {
			return g.name + " " + sub, s.run(ctx, rest, env)
		}
	}
	if strings.HasPrefix(sub, "-") {
		return g.name, flagsFirst(append([]string{g.name}, args...), "topics list")
	}
	return g.name, usagef("unknown subcommand %q", sub)
}

// isCommandWord reports whether a names a command or subcommand, to
// reorder a command line that put its flags first.
func isCommandWord(a string) bool {
	switch a {
	case "produce", "consume", "version":
		return true
	}
	for _, g := range commandGroups {
		if g.name == a {
			return true
		}
		for _, s := range g.subs {
			if s.name == a {
				return true
			}
		}
	}
	return false
}

// flagsFirst is the usage error for a command line that starts with a flag
// ("kafki --bootstrap-server X topics list"): kafki's flags belong to each
// command, as in Kafka's tools, so they go after it. The hint is args with
// the command words moved to the front, or an example when there are none.
func flagsFirst(args []string, example string) error {
	var words, flags []string
	for _, a := range args {
		if isCommandWord(a) {
			words = append(words, a)
		} else {
			flags = append(flags, a)
		}
	}
	if len(words) == 0 {
		return usagef("flags go after the command, e.g. 'kafki %s %s'", example, strings.Join(args, " "))
	}
	return usagef("flags go after the command: 'kafki %s %s'", strings.Join(words, " "), strings.Join(flags, " "))
}
