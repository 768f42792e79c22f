// Package sdnotify owns the daemon's side of the systemd service notification
// protocol (sd_notify(3), "Type=notify"): READY=1 once the daemon is up,
// a one-line STATUS= per change, WATCHDOG=1 keep-alives at half of
// $WATCHDOG_USEC while the daemon's health callback says it is not wedged,
// and STOPPING=1 on shutdown. Each message is one datagram on a unixgram
// socket sent to $NOTIFY_SOCKET (a file system path, or an abstract socket
// when it starts with '@').
//
// Outside systemd ($NOTIFY_SOCKET unset) every method is a no-op: that is
// not an error (style.md rule 18). A failed send is logged once, not on every
// keep-alive; the next successful send is logged too, so an outage shows as
// two lines.
//
// Use (internal/daemon):
//
//	n := sdnotify.New(sdnotify.WithLogger(log))
//	n.Status("starting: opening the modem")
//	... store opened, modem initialised ...
//	n.Ready()
//	go n.RunWatchdog(ctx, health) // health returns nil unless the daemon is wedged
//	n.Status("2/2 servers registered; modem up, -71 dBm")
//	... SIGTERM ...
//	n.Stopping()
//
// Must not import: any other package of this module.
package sdnotify
