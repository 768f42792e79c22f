// Package control owns the daemon's local control socket: the Status schema
// (its JSON keys are an interface for scripts and monitoring, snake_case and
// stable), the Server that answers on a unix stream socket in the runtime
// directory (mode 0600, DefaultSocket unless configured), and the client
// behind `lwm2m-clientd status`.
//
// The protocol is one exchange per connection: the client writes one request
// line ("status\n"), the daemon answers with one JSON document and closes.
// The daemon fills the Status through a Provider; this package knows nothing
// of registrations, modems or SMS beyond the schema.
//
// Socket life: Listen refuses to start when another daemon answers on the
// socket (or holds its lock file, PATH.lock), replaces a stale socket left by
// a crash, and creates the new one inside a private 0700 directory, sets it
// to 0600 and renames it into place, so the socket is never reachable with
// looser permissions and never half-created. Close removes it only if it is
// still the one this Server created.
//
// Use (internal/daemon and cmd/lwm2m-clientd):
//
//	srv, err := control.Listen(control.Config{Path: path}, provider, control.WithLogger(log))
//	if errors.Is(err, control.ErrAlreadyRunning) { ... exit 1 ... }
//	go srv.Serve(ctx)          // returns (socket removed) when ctx ends
//	notifier.Status(provider(ctx).Summary())
//
//	st, err := control.Fetch(ctx, control.DefaultSocket) // *NotRunningError: no daemon
//
// Must not import: any other package of this module.
package control
