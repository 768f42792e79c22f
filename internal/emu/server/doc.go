// Package server is an emulated LwM2M server and bootstrap server on
// loopback UDP, optionally behind DTLS 1.2 PSK, for tests and the demo. It
// accepts Register, Update and De-register, keeps the registrations, reports
// them as Events, and issues Read, Write, Execute, Discover, Create, Delete,
// Write-Attributes and Observe to a registered client through a Go API. As a
// bootstrap server it answers POST /bs and runs a caller-supplied script of
// bootstrap Writes, Deletes and Discovers ending in Bootstrap-Finish.
//
// Its SMS side (StartSMS, sms.go) attaches to the emulated network under one
// number per SMS security mode and sends requests to a client's MSISDN in
// NoSec, DTLS (pion server over smsdtls.PacketConn) and secured-packet mode
// (securedpacket with the SIM's keys and its own counter), with counters of
// SMS and bytes per mode.
//
// It owns its listener and the CoAP connections the clients open. It must
// not import internal/lwm2m, internal/daemon or cmd: it speaks the protocol
// from the server's side only.
package server
