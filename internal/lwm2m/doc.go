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
// It must not import internal/daemon, internal/modem, internal/smsbind,
// internal/emu or cmd: the SMS binding plugs in as a Dialer that returns a
// net.Conn-backed go-coap connection.
package lwm2m
