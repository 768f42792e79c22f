// Command lwm2m-clientd is an OMA LightweightM2M 1.0 client daemon for Linux
// cellular gateways, with the SMS binding in all three SMS security modes.
//
// This package is the CLI only: it parses flags, calls the packages that do
// the work, and maps their outcome to an exit code (0 success, 1 operational
// failure, 2 usage error).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "lwm2m-clientd: %v\n", err)
		return exitUsage
	}
	var se *silentError
	if errors.As(err, &se) {
		return se.code
	}
	fmt.Fprintf(stderr, "lwm2m-clientd: %v\n", err)
	return exitFail
}

// usageError marks a mistake in the command line (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// silentError carries an exit code for a failure that the command has
// already reported itself.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
