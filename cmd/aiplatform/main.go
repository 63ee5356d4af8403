// Command aiplatform is the project's CLI: what users run besides `pulumi`
// itself. Every subcommand names its inputs, outputs and exit codes in -h.
//
//	go run ./cmd/aiplatform preview -stack dev      the offline plan (no account)
//	go run ./cmd/aiplatform cost -stack dev         the monthly cost estimate
//	go run ./cmd/aiplatform cost-diff -base b.json -head h.json
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (bad stack config, unreadable file, …)
	exitUsage = 2 // unknown subcommand or flag
)

// subcommand is one row of the CLI's table: the help and the dispatch both
// derive from it.
type subcommand struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// subcommands is filled by each subcommand's file (init), so adding one
// touches only its own file.
var subcommands = map[string]subcommand{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	subcommands[name] = subcommand{summary: summary, run: run}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	sc, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "aiplatform: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return sc.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: aiplatform <command> [flags]   (go run ./cmd/aiplatform <command> -h for a command's help)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintf(w, "\nExit codes: %d success, %d failure, %d usage error.\n", exitOK, exitFail, exitUsage)
}

// newFlags makes a subcommand's flag set whose -h prints doc (inputs,
// outputs, exit codes) and the flags.
func newFlags(name, doc string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: aiplatform %s [flags]\n\n%s\n\nFlags:\n", name, strings.TrimSpace(doc))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; it returns the exit code to stop with, or -1 to go on.
func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "aiplatform %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage
	}
	return -1
}

// fail prints err under the command's name and returns exitFail.
func fail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "aiplatform %s: %v\n", name, err)
	return exitFail
}

// parseAction reads the action word and the flags after it for a
// subcommand with actions (`aiplatform models check DIR`, `aiplatform charts
// fetch -dir DIR`): -h prints usage (exit 0), a missing or unknown action
// or a bad flag is a usage error naming the allowed actions. ok is false
// when the caller must return code.
func parseAction(cmd string, args []string, fs *flag.FlagSet, usage func(), stderr io.Writer, actions ...string) (action string, code int, ok bool) {
	if len(args) == 0 {
		usage()
		return "", exitUsage, false
	}
	action = args[0]
	switch {
	case action == "-h" || action == "-help" || action == "--help" || action == "help":
		usage()
		return "", exitOK, false
	case !slices.Contains(actions, action):
		fmt.Fprintf(stderr, "aiplatform %s: unknown action %q; use %s (aiplatform %s -h)\n", cmd, action, strings.Join(actions, " or "), cmd)
		return "", exitUsage, false
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return "", exitOK, false
		}
		fmt.Fprintf(stderr, "aiplatform %s %s: %v\n", cmd, action, err)
		return "", exitUsage, false
	}
	return action, exitOK, true
}
