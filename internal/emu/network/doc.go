// Package network is the emulated SMS network: it delivers SMS between
// numbers (the emulated modem, emulated servers) with injectable delay,
// loss, duplication and reordering, store-and-forward retries, status
// reports, a UDP bridge (SMS to a number leave as datagrams to a peer,
// datagrams from it arrive as SMS), and the loopback JSON control API of
// "lwm2m-clientd emulator".
//
// It must not import the driver (internal/modem) or anything of the
// daemon path; of the project it imports only internal/atpdu.
package network
