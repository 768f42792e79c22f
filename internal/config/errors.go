package config

import (
	"fmt"
	"strings"
)

// Pos is a 1-based line and column in the configuration file.
type Pos struct {
	Line, Col int
}

// FieldError is one problem in a configuration, with where it is.
type FieldError struct {
	File string // the configuration file's path as given
	Pos  Pos    // zero when the problem has no single place
	Path string // key path, e.g. servers[0].sms.security_mode
	Msg  string
}

// Error formats the problem as file:line:col: path: message.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Col)
	}
	if e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration, in file order.
type Errors []*FieldError

// Error lists the problems, one per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, fe := range e {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}
