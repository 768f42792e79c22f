// Package network is the emulated SMS network: it delivers SMS between
// numbers (the emulated modem, emulated servers) with injectable delay,
// loss, duplication and reordering (without jitter SMS to one number keep
// their order), store-and-forward retries, status reports, a UDP bridge
// (each 8-bit SMS to a number leaves as one datagram to a peer, each
// datagram of at most 140 octets from it arrives as one SMS; per-bridge
// counters in BridgeStats), and the loopback JSON control API of
// "lwm2m-clientd emulator".
//
// It must not import the driver (internal/modem) or anything of the
// daemon path; of the project it imports only internal/atpdu.
package network
