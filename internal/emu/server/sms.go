package server

// The SMS side of the emulated LwM2M server: it attaches to the emulated
// network (internal/emu/network) under one MSISDN per SMS security mode and
// sends requests to a client's MSISDN over SMS in all three modes
// (LwM2M-TS 1.0 §7.2 as changed by the CR in ../shared/seed; spec digest
// lwm2m.md §2.2–2.5, dtls-over-sms.md, secured-packet.md):
//
//   - NoSec: the CoAP message is the 8-bit user data of one SMS (DCS 0x04,
//     PID 0x00, no UDH).
//   - DTLS: a pion/dtls v3 server with PSK and TLS_PSK_WITH_AES_128_CCM_8 over
//     smsdtls.PacketConn (every datagram ≤ 140 octets), HelloVerifyRequest on
//     unless SkipHelloVerify; the session is kept across requests.
//   - Secured packet: securedpacket command packets with the SIM's keys and
//     the server's own counter, in class 2 / PID 0x7F SMS with the CPI UDH
//     (TS 31.115 §4); the SIM's packets coming back are opened with the same
//     keys and checked against the last counter the server accepted.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
)

// SMSMode is an SMS security mode, the value of Security object resource 6
// (LwM2M-TS 1.0 App. E.1).
type SMSMode int

// SMS security modes.
const (
	SMSDTLS         SMSMode = 1
	SMSSecurePacket SMSMode = 2
	SMSNoSec        SMSMode = 3
)

// SMSModes lists the modes in the order reports show them.
var SMSModes = []SMSMode{SMSNoSec, SMSDTLS, SMSSecurePacket}

func (m SMSMode) String() string {
	switch m {
	case SMSDTLS:
		return "dtls"
	case SMSSecurePacket:
		return "secure-packet"
	case SMSNoSec:
		return "nosec"
	}
	return fmt.Sprintf("mode-%d", int(m))
}

// Defaults of the SMS side (PROJECT DEFAULT: not from a standard).
const (
	// DefaultSMSRequestTimeout bounds one request over SMS when the
	// context has no earlier deadline: a DTLS handshake over SMS with the
	// default 10 s RTO fits in it.
	DefaultSMSRequestTimeout = 60 * time.Second
	// DefaultSMSRetransmitInterval: the server's application-level retry
	// of a request over SMS (LwM2M-TS 1.0 §8.6.2 leaves CoAP retransmission
	// off on SMS and retries to the application). One SMS retransmission
	// timeout: a request whose SMS the network lost or reordered behind a
	// DTLS flight is sent again instead of timing out.
	DefaultSMSRetransmitInterval = smsdtls.DefaultInitialRTO
	// DefaultSMSHandshakeTimeout bounds one DTLS handshake of the server
	// (the smsdtls client's budget is about 150 s).
	DefaultSMSHandshakeTimeout = 150 * time.Second
	// smsDCS8Bit is 8-bit data without message class (TS 23.038 §4:
	// 0000 0100), what modes 1 and 3 use (LwM2M-TS 1.0 §7.2.2.1.2).
	smsDCS8Bit = 0x04
	// smsDCSClass2 is 8-bit data, class 2 (TS 23.038 §4: 1111 0110), with
	// PID 0x7F the form of an SMS-PP data download (TS 31.111 §7.1.1).
	smsDCSClass2 = 0xF6
)

// ErrSMSTimeout: the client did not answer in time.
var ErrSMSTimeout = errors.New("emu server: no response over SMS")

// SecurePacket is the secured-packet configuration of the server: the
// header of its command packets (SPI, KIc, KID, TAR), the keys it shares
// with the SIM, and the last counter it used.
type SecurePacket struct {
	Header  sp.Header
	Keys    sp.Keys
	Counter uint64 // the last counter used toward the SIM; the next packet uses Counter+1
	// SIMCounter is the last counter accepted from the SIM; its packets
	// must be above it (counter mode of the SPI).
	SIMCounter uint64
}

// SecurePacketFromProfile takes the keys and counters of an emulated SIM
// profile (configs/emulator-sim.yaml), as a server provisioned with the same
// keys (Security resources 7 and 8) has them.
func SecurePacketFromProfile(p sim.Profile) (SecurePacket, error) {
	spi, err := sp.DecodeSPI(p.SPI)
	if err != nil {
		return SecurePacket{}, fmt.Errorf("emu server: SIM profile SPI: %w", err)
	}
	if len(p.TAR) != 3 || len(p.KIc) != 1 || len(p.KID) != 1 {
		return SecurePacket{}, fmt.Errorf("emu server: SIM profile: TAR must be 3 octets, KIc and KID 1")
	}
	var tar sp.TAR
	copy(tar[:], p.TAR)
	return SecurePacket{
		Header:     sp.Header{SPI: spi, KIc: sp.KeyRef(p.KIc[0]), KID: sp.KeyRef(p.KID[0]), TAR: tar},
		Keys:       sp.Keys{KIc: bytes.Clone(p.KIcKey), KID: bytes.Clone(p.KIDKey)},
		Counter:    p.Counter,
		SIMCounter: p.Counter,
	}, nil
}

// SMSConfig configures the SMS side of an emulated server.
type SMSConfig struct {
	// Network is the emulated network the server attaches to.
	Network *network.Network
	// Numbers are the server's MSISDNs per mode ("+33600000001"); a mode
	// without a number is not served.
	Numbers map[SMSMode]string
	// PSKIdentity and PSK are the DTLS credentials (mode 1).
	PSKIdentity []byte
	PSK         []byte
	// SkipHelloVerify turns the DTLS HelloVerifyRequest off (RFC 6347
	// §4.2.1): a full handshake then costs 4 SMS instead of 6.
	SkipHelloVerify bool
	// InitialRTO is the DTLS server's flight interval (default
	// smsdtls.DefaultInitialRTO).
	InitialRTO time.Duration
	// HandshakeTimeout bounds one server-side DTLS handshake (default
	// DefaultSMSHandshakeTimeout).
	HandshakeTimeout time.Duration
	// SecurePacket is the mode-2 configuration (required with a mode-2
	// number).
	SecurePacket *SecurePacket
	// RequestTimeout bounds a request when ctx has no deadline (default
	// DefaultSMSRequestTimeout).
	RequestTimeout time.Duration
	// RetransmitInterval is how long a request waits for its response
	// before the same message (same Message ID and token, so the client's
	// CoAP deduplication answers a duplicate from its cache) is sent again
	// (default DefaultSMSRetransmitInterval; negative: never).
	RetransmitInterval time.Duration
	// Log receives one line per SMS-level event (default: discard).
	Log *slog.Logger
	// Server, when set, serves the requests clients send over SMS (Register,
	// Update, De-register with Block1 reassembly, LwM2M-TS 1.0 §5.3 over the
	// SMS binding): they reach the same registry and event stream as its
	// UDP side, and a client registered over SMS is asked (Client(ep).Read,
	// Observe, ...) and notifies over SMS. Without it, requests over SMS
	// are dropped.
	Server *Server
}

// SMSCounters count the SMS of one mode, as the server sees them.
type SMSCounters struct {
	In       uint64 `json:"in"`        // SMS received from clients
	Out      uint64 `json:"out"`       // SMS sent to clients
	BytesIn  uint64 `json:"bytes_in"`  // user data octets (UDH included) received
	BytesOut uint64 `json:"bytes_out"` // user data octets (UDH included) sent
	Largest  int    `json:"largest"`   // the largest user data seen, either way
	Dropped  uint64 `json:"dropped"`   // received SMS that were not a valid message for this mode
	// Handshakes counts completed DTLS handshakes; HandshakeIn and
	// HandshakeOut the SMS exchanged while one was in progress.
	Handshakes   uint64 `json:"handshakes,omitempty"`
	HandshakeIn  uint64 `json:"handshake_in,omitempty"`
	HandshakeOut uint64 `json:"handshake_out,omitempty"`
}

// SMSServer is the SMS side of an emulated LwM2M server.
type SMSServer struct {
	cfg     SMSConfig
	log     *slog.Logger
	byNum   map[string]SMSMode // server number → mode; read-only after StartSMS
	ctx     context.Context    // ends at Close: the DTLS peers' goroutines
	stop    context.CancelFunc
	wg      sync.WaitGroup // the DTLS peers' goroutines
	closeMu sync.Once

	mu      sync.Mutex // guards the fields below
	closed  bool
	stats   map[SMSMode]*SMSCounters
	pending map[string]chan message.Message // by pendingKey(mode, msisdn, token)
	dtls    map[string]*dtlsPeer            // by client MSISDN
	spState SecurePacket                    // counters advance here
	asm     sp.Assembler                    // the SIM's concatenated packets
	mid     uint16                          // last CoAP message ID
	tok     uint16                          // last 2-byte request token (a counter: no two requests in flight, nor a late answer to a recent one, share a token)
	tokInit bool                            // tok was given its random start
	peers   map[string]*smsPeer             // by peerKey(mode, msisdn): clients served through cfg.Server
}

// StartSMS attaches the server's numbers to the network.
func StartSMS(cfg SMSConfig) (*SMSServer, error) {
	if cfg.Network == nil {
		return nil, errors.New("emu server: SMS side needs a network")
	}
	if cfg.RetransmitInterval == 0 {
		cfg.RetransmitInterval = DefaultSMSRetransmitInterval
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultSMSRequestTimeout
	}
	if cfg.InitialRTO <= 0 {
		cfg.InitialRTO = smsdtls.DefaultInitialRTO
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultSMSHandshakeTimeout
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &SMSServer{cfg: cfg, log: log.With("component", "emu-server-sms"), byNum: map[string]SMSMode{},
		stats: map[SMSMode]*SMSCounters{}, pending: map[string]chan message.Message{}, dtls: map[string]*dtlsPeer{},
		peers: map[string]*smsPeer{}}
	for mode, num := range cfg.Numbers {
		switch mode {
		case SMSNoSec:
		case SMSDTLS:
			if len(cfg.PSK) == 0 || len(cfg.PSKIdentity) == 0 {
				return nil, errors.New("emu server: the DTLS SMS number needs a PSK identity and key")
			}
		case SMSSecurePacket:
			if cfg.SecurePacket == nil {
				return nil, errors.New("emu server: the secure-packet SMS number needs SIM keys")
			}
			s.spState = *cfg.SecurePacket
		default:
			return nil, fmt.Errorf("emu server: unknown SMS mode %d", int(mode))
		}
		if _, err := atpdu.ParseAddress(num); err != nil {
			return nil, fmt.Errorf("emu server: %s number %q: %w", mode, num, err)
		}
		s.byNum[num] = mode
		s.stats[mode] = &SMSCounters{}
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	s.mid = uint16(b[0])<<8 | uint16(b[1])
	s.ctx, s.stop = context.WithCancel(context.Background())
	for num, mode := range s.byNum {
		cfg.Network.Attach(num, &smsEndpoint{s: s, mode: mode})
	}
	return s, nil
}

// Close stops the DTLS sessions and waits for their goroutines. The
// network keeps the numbers attached; SMS to them are then dropped.
// Idempotent.
func (s *SMSServer) Close() error {
	s.closeMu.Do(func() {
		s.mu.Lock()
		s.closed = true
		peers := s.dtls
		s.dtls = map[string]*dtlsPeer{}
		conns := s.peers
		s.peers = map[string]*smsPeer{}
		s.mu.Unlock()
		for _, c := range conns {
			c.close()
		}
		s.stop()
		for _, p := range peers {
			p.close()
		}
		s.wg.Wait()
	})
	return nil
}

// Number is the server's MSISDN in mode ("" when not served).
func (s *SMSServer) Number(mode SMSMode) string {
	for n, m := range s.byNum {
		if m == mode {
			return n
		}
	}
	return ""
}

// Stats returns the counters of every served mode.
func (s *SMSServer) Stats() map[SMSMode]SMSCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[SMSMode]SMSCounters, len(s.stats))
	for m, c := range s.stats {
		out[m] = *c
	}
	return out
}

// DTLSEstablished reports whether the server holds an established DTLS
// session with msisdn.
func (s *SMSServer) DTLSEstablished(msisdn string) bool {
	s.mu.Lock()
	p := s.dtls[msisdn]
	s.mu.Unlock()
	return p != nil && p.isEstablished()
}

// count records one SMS; the caller holds no lock.
func (s *SMSServer) count(mode SMSMode, out bool, octets int, handshake bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats[mode]
	if c == nil {
		return
	}
	if out {
		c.Out++
		c.BytesOut += uint64(octets)
		if handshake {
			c.HandshakeOut++
		}
	} else {
		c.In++
		c.BytesIn += uint64(octets)
		if handshake {
			c.HandshakeIn++
		}
	}
	c.Largest = max(c.Largest, octets)
}

func (s *SMSServer) dropped(mode SMSMode, msisdn, why string) {
	s.mu.Lock()
	if c := s.stats[mode]; c != nil {
		c.Dropped++
	}
	s.mu.Unlock()
	s.log.Info("SMS dropped", "mode", mode.String(), "from", msisdn, "reason", why)
}

// send submits one SMS-DELIVER from the mode's number to msisdn, refusing
// more than 140 octets of user data (TS 23.040 §9.2.3.24).
func (s *SMSServer) send(mode SMSMode, msisdn string, d atpdu.Deliver, handshake bool) error {
	n := len(d.UD) + d.UDH.Len()
	if n > atpdu.MaxUDOctets {
		return fmt.Errorf("emu server: SMS to %s with %d octets of user data: over %d", msisdn, n, atpdu.MaxUDOctets)
	}
	if err := s.cfg.Network.SendFrom(s.Number(mode), msisdn, d); err != nil {
		return fmt.Errorf("emu server: send %s SMS to %s: %w", mode, msisdn, err)
	}
	s.count(mode, true, n, handshake)
	return nil
}

// smsEndpoint is one server number on the network.
type smsEndpoint struct {
	s    *SMSServer
	mode SMSMode
}

// Deliver takes one SMS-DELIVER a client sent to this number. It never
// blocks on a client: DTLS records are queued to the peer's PacketConn,
// responses to their waiting request.
func (e *smsEndpoint) Deliver(_ context.Context, tpdu []byte) error {
	s := e.s
	d, err := atpdu.DecodeDeliver(tpdu)
	if err != nil {
		s.count(e.mode, false, 0, false)
		s.dropped(e.mode, "?", "undecodable SMS-DELIVER")
		return nil
	}
	from := d.OA.String()
	octets := len(d.UD) + d.UDH.Len()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	switch e.mode {
	case SMSNoSec:
		s.count(e.mode, false, octets, false)
		if byte(d.DCS) != smsDCS8Bit || d.PID != atpdu.PIDNormal || len(d.UDH) != 0 {
			s.dropped(e.mode, from, fmt.Sprintf("not 8-bit PID 0 without UDH (DCS %02x PID %02x)", byte(d.DCS), byte(d.PID)))
			return nil
		}
		s.coapIn(e.mode, from, d.UD)
	case SMSDTLS:
		s.dtlsIn(from, d, octets)
	case SMSSecurePacket:
		s.count(e.mode, false, octets, false)
		s.securePacketIn(from, d)
	}
	return nil
}

// DeliverStatusReport: the server never asks for status reports.
func (e *smsEndpoint) DeliverStatusReport(context.Context, []byte) error { return nil }

func pendingKey(mode SMSMode, msisdn string, tok message.Token) string {
	return fmt.Sprintf("%d|%s|%x", mode, msisdn, []byte(tok))
}

// coapIn handles one CoAP message from msisdn in mode: a response to a
// pending request, an empty ACK, or something the server does not serve.
func (s *SMSServer) coapIn(mode SMSMode, from string, b []byte) {
	m := message.Message{Options: make(message.Options, 0, 16)}
	if _, err := coder.DefaultCoder.Decode(b, &m); err != nil {
		s.dropped(mode, from, "not a CoAP message")
		return
	}
	m.Payload = bytes.Clone(m.Payload)
	m.Token = bytes.Clone(m.Token)
	if m.Code >= codes.Created && s.takeResponse(mode, from, m) {
		return
	}
	if s.cfg.Server != nil {
		// Requests, ACKs, RSTs, notifications and the answers to the
		// server's own requests go to the go-coap connection of this
		// client (sms_peer.go).
		if p := s.peer(mode, from); p != nil {
			p.deliver(bytes.Clone(b))
		}
		return
	}
	if m.Code == codes.Empty {
		// An empty ACK announces a separate response; an empty CON is a
		// ping (RFC 7252 §4.3) answered with RST.
		if m.Type == message.Confirmable {
			s.sendEmpty(mode, from, message.Reset, m.MessageID)
		}
		return
	}
	if m.Code < codes.Created { // a request: this server serves none over SMS
		s.dropped(mode, from, "request over SMS ("+m.Code.String()+") not served")
		return
	}
	s.log.Info("response over SMS matches no request", "mode", mode.String(), "from", from, "code", m.Code.String())
}

// takeResponse gives m to the SMSClient request it answers; false when none
// waits for it.
func (s *SMSServer) takeResponse(mode SMSMode, from string, m message.Message) bool {
	s.mu.Lock()
	ch := s.pending[pendingKey(mode, from, m.Token)]
	s.mu.Unlock()
	if ch == nil {
		return false
	}
	if m.Type == message.Confirmable { // a separate response (RFC 7252 §5.2.2)
		s.sendEmpty(mode, from, message.Acknowledgement, m.MessageID)
	}
	select {
	case ch <- m:
	default: // a duplicate of the response already delivered
	}
	return true
}

func (s *SMSServer) sendEmpty(mode SMSMode, to string, typ message.Type, mid int32) {
	buf := make([]byte, 4)
	n, err := coder.DefaultCoder.Encode(message.Message{Type: typ, MessageID: mid, Code: codes.Empty}, buf)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	if err := s.write(ctx, mode, to, buf[:n]); err != nil {
		s.log.Info("empty CoAP message not sent", "mode", mode.String(), "to", to, "err", err)
	}
}

// write sends one CoAP message to msisdn in mode.
func (s *SMSServer) write(ctx context.Context, mode SMSMode, to string, msg []byte) error {
	switch mode {
	case SMSNoSec:
		return s.send(mode, to, atpdu.Deliver{DCS: smsDCS8Bit, PID: atpdu.PIDNormal, UD: msg}, false)
	case SMSDTLS:
		p, err := s.dtlsSession(ctx, to)
		if err != nil {
			return err
		}
		if len(msg) > smsdtls.MaxPlaintext {
			return fmt.Errorf("emu server: %d octets do not fit one DTLS record in one SMS", len(msg))
		}
		_ = p.conn.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
		if _, err := p.conn.Write(msg); err != nil {
			return fmt.Errorf("emu server: DTLS write to %s: %w", to, err)
		}
		return nil
	case SMSSecurePacket:
		return s.securePacketOut(to, msg)
	}
	return fmt.Errorf("emu server: mode %s not served", mode)
}

// SMSClient is a client reached over SMS in one mode.
type SMSClient struct {
	s      *SMSServer
	mode   SMSMode
	msisdn string
}

// SMS returns the handle to issue requests to the client at msisdn in mode.
func (s *SMSServer) SMS(mode SMSMode, msisdn string) *SMSClient {
	return &SMSClient{s: s, mode: mode, msisdn: msisdn}
}

// Execute is POST path with optional plain-text arguments.
func (c *SMSClient) Execute(ctx context.Context, path, args string) (Response, error) {
	var payload []byte
	if args != "" {
		payload = []byte(args)
	}
	return c.do(ctx, codes.POST, path, -1, payload)
}

// Read is GET path with an optional Accept (-1: none).
func (c *SMSClient) Read(ctx context.Context, path string, accept int) (Response, error) {
	return c.do(ctx, codes.GET, path, accept, nil)
}

func (c *SMSClient) do(ctx context.Context, code codes.Code, path string, accept int, payload []byte) (Response, error) {
	buf := make([]byte, 64)
	opts, _, err := message.Options{}.SetPath(buf, path)
	if err != nil {
		return Response{}, fmt.Errorf("emu server: path %q: %w", path, err)
	}
	if accept >= 0 {
		opts, _, err = opts.SetUint32(make([]byte, 4), message.Accept, uint32(accept))
		if err != nil {
			return Response{}, err
		}
	}
	if payload != nil {
		opts, _, err = opts.SetContentFormat(make([]byte, 4), message.TextPlain)
		if err != nil {
			return Response{}, err
		}
	}
	return c.Request(ctx, message.Message{Code: code, Options: opts, Payload: payload})
}

// Request sends m as a confirmable request with a fresh message ID and a
// 2-byte token (short tokens save SMS octets) and waits for its response:
// piggy-backed in the ACK or separate (then acknowledged). It returns
// ErrSMSTimeout when nothing matching came back before ctx's deadline (or
// RequestTimeout). The request is sent again every RetransmitInterval
// until its response arrives (CoAP retransmission is off on SMS, so this
// is the application-level retry), so a lost request or response costs one
// interval rather than the whole deadline.
func (c *SMSClient) Request(ctx context.Context, m message.Message) (Response, error) {
	s := c.s
	if _, ok := s.stats[c.mode]; !ok {
		return Response{}, fmt.Errorf("emu server: mode %s not served", c.mode)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Response{}, fmt.Errorf("emu server: request over SMS: %w", ErrNoResponse)
	}
	// Tokens count up from a random start: random 2-byte tokens collided
	// about once per 20 runs of the kill test's concurrent Reads, and the
	// second request never saw its answer.
	if !s.tokInit {
		var b [2]byte
		_, _ = rand.Read(b[:])
		s.tok, s.tokInit = binary.BigEndian.Uint16(b[:]), true
	}
	s.tok++
	var tok [2]byte
	binary.BigEndian.PutUint16(tok[:], s.tok)
	s.mid++
	m.MessageID = int32(s.mid)
	m.Type = message.Confirmable
	m.Token = tok[:]
	key := pendingKey(c.mode, c.msisdn, m.Token)
	ch := make(chan message.Message, 1)
	s.pending[key] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, key)
		s.mu.Unlock()
	}()
	size, err := coder.DefaultCoder.Size(m)
	if err != nil {
		return Response{}, fmt.Errorf("emu server: encode request: %w", err)
	}
	b := make([]byte, size)
	if _, err := coder.DefaultCoder.Encode(m, b); err != nil {
		return Response{}, fmt.Errorf("emu server: encode request: %w", err)
	}
	if err := s.write(ctx, c.mode, c.msisdn, b); err != nil {
		return Response{}, fmt.Errorf("emu server: %s request to %s: %w", c.mode, c.msisdn, err)
	}
	var retry <-chan time.Time
	if s.cfg.RetransmitInterval > 0 {
		t := time.NewTicker(s.cfg.RetransmitInterval)
		defer t.Stop()
		retry = t.C
	}
	for {
		select {
		case r := <-ch:
			resp := Response{Code: r.Code, Format: -1, Payload: r.Payload}
			if cf, err := r.Options.ContentFormat(); err == nil {
				resp.Format = int(cf)
			}
			return resp, nil
		case <-retry:
			s.log.Info("no response over SMS yet, sending the request again", "client", c.msisdn, "mode", c.mode.String(), "mid", m.MessageID)
			if err := s.write(ctx, c.mode, c.msisdn, b); err != nil {
				return Response{}, fmt.Errorf("emu server: %s request to %s: %w", c.mode, c.msisdn, err)
			}
		case <-ctx.Done():
			return Response{}, fmt.Errorf("emu server: %s request to %s: %w (%w)", c.mode, c.msisdn, ErrSMSTimeout, ctx.Err())
		}
	}
}

// dtlsPeer is the server's DTLS association with one client MSISDN. Its
// goroutine owns the handshake and the reads of conn.
type dtlsPeer struct {
	pc          *smsdtls.PacketConn
	conn        *dtls.Conn
	established chan struct{} // closed when the handshake succeeded
	done        chan struct{} // closed when the goroutine ended
	once        sync.Once
	heard       atomic.Bool // set when any datagram from the client arrived
}

func (p *dtlsPeer) isEstablished() bool {
	select {
	case <-p.established:
		return true
	default:
		return false
	}
}

// close ends the association without a close_notify (the PacketConn is
// closed first, so pion's alert goes nowhere): like the client, the server
// never spends an SMS on it, and a client keeps its stored session.
func (p *dtlsPeer) close() {
	p.once.Do(p.closeConns)
	<-p.done
}

func (p *dtlsPeer) closeConns() {
	_ = p.pc.Close()
	_ = p.conn.Close()
}

// dtlsSender sends the DTLS server's datagrams as SMS.
type dtlsSender struct {
	s    *SMSServer
	peer func() *dtlsPeer
}

func (d dtlsSender) SendSMS(_ context.Context, to string, ud []byte, _ time.Duration) error {
	p := d.peer()
	hs := p == nil || !p.isEstablished()
	return d.s.send(SMSDTLS, to, atpdu.Deliver{DCS: smsDCS8Bit, PID: atpdu.PIDNormal, UD: bytes.Clone(ud)}, hs)
}

// isClientHello reports whether ud starts with an epoch-0 handshake record
// carrying a ClientHello (RFC 6347 §4.1 record header: type 22, version,
// epoch 0; §4.2.2 handshake header: msg_type 1).
func isClientHello(ud []byte) bool {
	return len(ud) > 13 && ud[0] == 22 && ud[3] == 0 && ud[4] == 0 && ud[13] == 1
}

// dtlsIn handles one SMS to the DTLS number: a new ClientHello while a
// session is established starts a new association (RFC 6347 §4.2.8);
// everything goes to the peer's PacketConn, where pion authenticates it.
func (s *SMSServer) dtlsIn(from string, d atpdu.Deliver, octets int) {
	if byte(d.DCS) != smsDCS8Bit || d.PID != atpdu.PIDNormal || len(d.UDH) != 0 {
		s.count(SMSDTLS, false, octets, false)
		s.dropped(SMSDTLS, from, "not 8-bit PID 0 without UDH")
		return
	}
	s.mu.Lock()
	p := s.dtls[from]
	s.mu.Unlock()
	if p != nil && p.isEstablished() && isClientHello(d.UD) {
		s.log.Info("new DTLS handshake from a client with a session", "from", from)
		s.mu.Lock()
		if s.dtls[from] == p {
			delete(s.dtls, from)
		}
		s.mu.Unlock()
		go p.close() // not on the network's delivery goroutine: close waits
		p = nil
	}
	if p == nil {
		var err error
		if p, err = s.newDTLSPeer(from); err != nil {
			s.count(SMSDTLS, false, octets, true)
			s.dropped(SMSDTLS, from, err.Error())
			return
		}
	}
	s.count(SMSDTLS, false, octets, !p.isEstablished())
	p.heard.Store(true)
	p.pc.Deliver(d.UD)
}

// newDTLSPeer starts the server side of a DTLS association with msisdn (it
// waits for the ClientHello). It returns the current peer when one exists.
func (s *SMSServer) newDTLSPeer(msisdn string) (*dtlsPeer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("server closed")
	}
	if p := s.dtls[msisdn]; p != nil {
		return p, nil
	}
	p := &dtlsPeer{established: make(chan struct{}), done: make(chan struct{})}
	sender := dtlsSender{s: s, peer: func() *dtlsPeer { return p }}
	p.pc = smsdtls.NewPacketConn(msisdn, sender, s.cfg.InitialRTO, 0, s.log)
	psk := bytes.Clone(s.cfg.PSK)
	ident := bytes.Clone(s.cfg.PSKIdentity)
	conn, err := dtls.ServerWithOptions(p.pc, smsdtls.Addr(msisdn),
		dtls.WithPSK(func(hint []byte) ([]byte, error) {
			if !bytes.Equal(hint, ident) {
				return nil, fmt.Errorf("unknown PSK identity %q", hint)
			}
			return psk, nil
		}),
		dtls.WithCipherSuites(smsdtls.CipherSuite),
		dtls.WithMTU(smsdtls.HandshakeMTU),
		dtls.WithFlightInterval(s.cfg.InitialRTO),
		dtls.WithInsecureSkipVerifyHello(s.cfg.SkipHelloVerify))
	if err != nil {
		_ = p.pc.Close()
		return nil, fmt.Errorf("DTLS server for %s: %w", msisdn, err)
	}
	p.conn = conn
	s.dtls[msisdn] = p
	s.wg.Add(1)
	go s.runDTLSPeer(msisdn, p)
	return p, nil
}

// runDTLSPeer owns p's handshake and reads.
func (s *SMSServer) runDTLSPeer(msisdn string, p *dtlsPeer) {
	defer s.wg.Done()
	defer close(p.done)
	defer func() {
		s.mu.Lock()
		if s.dtls[msisdn] == p {
			delete(s.dtls, msisdn)
		}
		s.mu.Unlock()
		p.once.Do(p.closeConns)
	}()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	err := p.conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		s.log.Info("DTLS handshake over SMS failed", "client", msisdn, "err", err)
		return
	}
	s.mu.Lock()
	s.stats[SMSDTLS].Handshakes++
	s.mu.Unlock()
	close(p.established)
	s.log.Info("DTLS session over SMS established", "client", msisdn)
	buf := make([]byte, 2048)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Info("DTLS session over SMS ended", "client", msisdn, "err", err)
			}
			return
		}
		s.coapIn(SMSDTLS, msisdn, buf[:n])
	}
}

// helloRequest is a DTLS HelloRequest in one epoch-0 record (RFC 6347
// §4.1 record header, §4.2.2 handshake header; RFC 5246 §7.4.1.1): it asks
// a client whose session the server lost to handshake again.
var helloRequest = []byte{
	22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, // record: handshake, DTLS 1.2, epoch 0, seq 0, length 12
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // hello_request, length 0, message_seq 0, offset 0, fragment 0
}

// dtlsSession returns the established session with msisdn, waiting for a
// handshake in progress. With no association at all it sends a
// HelloRequest (a client with a stale session handshakes again; a client
// without one opens it itself, at start-up for bindings with S).
func (s *SMSServer) dtlsSession(ctx context.Context, msisdn string) (*dtlsPeer, error) {
	s.mu.Lock()
	p := s.dtls[msisdn]
	s.mu.Unlock()
	var reprompt <-chan time.Time // ticks while a HelloRequest is unanswered
	if p == nil {
		var err error
		if p, err = s.newDTLSPeer(msisdn); err != nil {
			return nil, fmt.Errorf("emu server: %w", err)
		}
		if err := s.sendHelloRequest(msisdn); err != nil {
			return nil, err
		}
		// A HelloRequest is never retransmitted by DTLS itself (RFC 6347
		// §4.2.4.1): one lost, or ignored by a client inside its
		// re-handshake interval, would leave the request to time out.
		// Prompt again every flight interval until the client says
		// anything at all.
		t := time.NewTicker(s.cfg.InitialRTO)
		defer t.Stop()
		reprompt = t.C
	}
	for {
		select {
		case <-p.established:
			return p, nil
		case <-p.done:
			return nil, fmt.Errorf("emu server: DTLS handshake with %s failed", msisdn)
		case <-ctx.Done():
			return nil, fmt.Errorf("emu server: no DTLS session with %s: %w (%w)", msisdn, ErrSMSTimeout, ctx.Err())
		case <-reprompt:
			if p.heard.Load() {
				reprompt = nil // the client answered: DTLS retransmission takes over
				continue
			}
			s.log.Info("no answer to the DTLS HelloRequest, sending it again", "client", msisdn)
			if err := s.sendHelloRequest(msisdn); err != nil {
				return nil, err
			}
		}
	}
}

func (s *SMSServer) sendHelloRequest(msisdn string) error {
	return s.send(SMSDTLS, msisdn, atpdu.Deliver{DCS: smsDCS8Bit, PID: atpdu.PIDNormal, UD: helloRequest}, true)
}

// securePacketOut seals msg in one command packet with the next counter
// and sends it as class 2 / PID 0x7F SMS with the command packet
// identifier in the UDH (TS 31.115 §4.1; concatenated when it needs more
// than one SMS).
func (s *SMSServer) securePacketOut(to string, msg []byte) error {
	data, err := sp.AppendCoAP(nil, msg)
	if err != nil {
		return fmt.Errorf("emu server: secured data: %w", err)
	}
	s.mu.Lock()
	st := s.spState
	s.spState.Counter++
	s.mu.Unlock()
	ctr := st.Counter + 1
	pkt, err := sp.SealCommand(nil, sp.Command{Header: st.Header, Counter: ctr, Data: data}, st.Keys)
	if err != nil {
		return fmt.Errorf("emu server: seal command packet: %w", err)
	}
	parts, err := sp.SplitCommand(pkt, byte(ctr))
	if err != nil {
		return fmt.Errorf("emu server: split command packet: %w", err)
	}
	for _, part := range parts {
		u, err := sp.DecodeUserData(part)
		if err != nil {
			return fmt.Errorf("emu server: command user data: %w", err)
		}
		var udh atpdu.UDH
		for _, ie := range u.IEs {
			udh = append(udh, atpdu.IE{IEI: ie.ID, Data: ie.Data})
		}
		if err := s.send(SMSSecurePacket, to, atpdu.Deliver{PID: atpdu.PIDUSIMDataDownload, DCS: smsDCSClass2, UDH: udh, UD: u.Payload}, false); err != nil {
			return err
		}
	}
	return nil
}

// securePacketIn opens what the client's SIM sent: class 2 / PID 0x7F SMS
// carrying a command packet under the same keys, with a counter above the
// last one accepted.
func (s *SMSServer) securePacketIn(from string, d atpdu.Deliver) {
	if d.PID != atpdu.PIDUSIMDataDownload || byte(d.DCS) != smsDCSClass2 {
		s.dropped(SMSSecurePacket, from, fmt.Sprintf("not class 2 PID 0x7F (DCS %02x PID %02x)", byte(d.DCS), byte(d.PID)))
		return
	}
	var ies []sp.IE
	for _, ie := range d.UDH {
		ies = append(ies, sp.IE{ID: ie.IEI, Data: ie.Data})
	}
	s.mu.Lock()
	pkt, done, err := s.asm.Add(from, sp.UserData{IEs: ies, Payload: d.UD})
	st := s.spState
	s.mu.Unlock()
	if err != nil {
		s.dropped(SMSSecurePacket, from, "not a command packet: "+err.Error())
		return
	}
	if !done {
		return
	}
	p, err := sp.DecodeCommandPacket(pkt)
	if err != nil {
		s.dropped(SMSSecurePacket, from, "undecodable command packet")
		return
	}
	c, err := p.Open(st.Keys, st.SIMCounter)
	if err != nil {
		s.dropped(SMSSecurePacket, from, "command packet refused: "+err.Error())
		return
	}
	s.mu.Lock()
	if c.Counter <= s.spState.SIMCounter { // a concurrent packet got there first
		s.mu.Unlock()
		s.dropped(SMSSecurePacket, from, "command packet counter not higher")
		return
	}
	s.spState.SIMCounter = c.Counter
	s.mu.Unlock()
	coap, err := sp.DecodeCoAP(c.Data)
	if err != nil {
		s.dropped(SMSSecurePacket, from, "secured data is not CoAP")
		return
	}
	s.coapIn(SMSSecurePacket, from, coap)
}

// FormatSMSTable writes the counters as a fixed-width table, one row per
// served mode.
func FormatSMSTable(stats map[SMSMode]SMSCounters) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %6s %6s %9s %9s %8s\n", "mode", "in", "out", "bytes_in", "bytes_out", "largest")
	for _, m := range SMSModes {
		c, ok := stats[m]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%-14s %6d %6d %9d %9d %8d\n", m, c.In, c.Out, c.BytesIn, c.BytesOut, c.Largest)
	}
	return b.String()
}
