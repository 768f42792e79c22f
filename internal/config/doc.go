// Package config owns the daemon's YAML configuration: the schema, its
// defaults, validation that reports every problem with file:line:col and the
// key path, and secrets loaded inline (hex) or from *_file paths.
//
// It must not import any other lwm2m-clientd package: every other package
// receives the plain values it needs from the daemon, never this package's
// types.
package config
