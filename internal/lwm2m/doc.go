// Package lwm2m is the LwM2M 1.0 client engine: the client-initiated
// bootstrap, one registration state machine per server (Register, Update,
// De-register with capped exponential backoff), the device-management and
// information-reporting interfaces mapped onto CoAP (go-coap v3 over UDP and
// DTLS 1.2 PSK through pion/dtls v3), observations with pmin/pmax/gt/lt/st,
// notification storing while offline and queue mode.
//
// It owns the CoAP connections to the servers and the registration state. The
// object model is reached only through the Objects interface (the daemon adapts
// internal/objects to it), transports beyond UDP through Dialer, and time
// through Clock.
//
// Transports other than UDP sockets plug in without the engine knowing them:
// Config.Dial with ConnClient runs a server's registration over any
// datagram-preserving net.Conn, and Engine.ServeConn serves a server's
// requests arriving on a side connection (the SMS binding's per-server Conn:
// an SMS trigger there makes the registration Update over UDP, bindings US
// and UQS). With binding S or SQ the registration itself runs over the
// connection Config.DialSMS opens, with that connection's Transport (2-byte
// tokens, no CoAP retransmission, Block1 sized to one SMS; sms.go). State()
// snapshots every registration for status and health.
//
// It must not import internal/daemon, internal/modem, internal/smsbind,
// internal/emu or cmd.
package lwm2m
