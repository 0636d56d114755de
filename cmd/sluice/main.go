package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1   // the job failed, or an I/O error
	exitUsage    = 2   // bad command line or pipeline configuration
	exitSignaled = 130 // a second SIGINT/SIGTERM: stopped at once
	// exitStopIncomplete (3, run.go): stopped without a final checkpoint.
)

func main() {
	a := &app{stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv, terminal: isTerminal(os.Stderr),
		width: func() int { return terminalWidth(os.Stderr) }}
	os.Exit(a.main(os.Args[1:]))
}

// app is the command with its environment, so that tests run it
// in-process.
type app struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	// terminal says stderr is a terminal: text logs and a progress line.
	terminal bool
	// width, when set, returns the terminal's columns (0: unknown).
	width func() int
	// signals, when set, replaces SIGINT/SIGTERM (tests).
	signals <-chan os.Signal
	// progressEvery, when set, replaces the interval of the progress log
	// records off a terminal (tests).
	progressEvery time.Duration
}

const usage = `sluice runs stream-processing jobs with exactly-once state and delivery.

Usage:
  sluice run PIPELINE.yaml [flags]     run a YAML pipeline until it ends or is stopped (Ctrl-C)
  sluice plan PIPELINE.yaml [flags]    validate a pipeline and print its job graph and guarantee
  sluice connectors                    list the connectors with their delivery guarantees
  sluice checkpoints LOCATION          list the checkpoints and savepoints in a checkpoint storage
  sluice status URL                    show a running job: state, operators, checkpoints, failures
  sluice savepoint URL                 take a savepoint of a running job (needs its token)
  sluice stop URL                      stop a running job with a final checkpoint (needs its token)
                                       (--verify: read every state file and check its checksum)
  sluice bench nexmark --query qN      run a Nexmark query; prints one JSON result line

Run 'sluice COMMAND -h' for the flags of a command. Pipelines are described in pipeline/README.md.
`

func (a *app) main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return a.run(args[1:])
	case "plan":
		return a.plan(args[1:])
	case "connectors":
		return a.connectors(args[1:])
	case "checkpoints":
		return a.checkpoints(args[1:])
	case "bench":
		return a.bench(args[1:])
	case "status":
		return a.status(args[1:])
	case "savepoint":
		return a.savepoint(args[1:])
	case "stop":
		return a.stop(args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	}
	fmt.Fprintf(a.stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseArgs parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that writes its usage to stderr.
func (a *app) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: sluice %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// flagErr turns a flag parsing error into an exit code.
func flagErr(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// positiveInt is a flag of a positive integer (0: not given).
type positiveInt int

func (p *positiveInt) String() string { return strconv.Itoa(int(*p)) }
func (p *positiveInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("%q is not a positive integer", v)
	}
	*p = positiveInt(n)
	return nil
}

// positiveInt64 is a flag of a positive 64-bit integer.
type positiveInt64 int64

func (p *positiveInt64) String() string { return strconv.FormatInt(int64(*p), 10) }
func (p *positiveInt64) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return fmt.Errorf("%q is not a positive integer", v)
	}
	*p = positiveInt64(n)
	return nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
