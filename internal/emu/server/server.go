package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	piondtls "github.com/pion/dtls/v3"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	dtlsserver "github.com/plgd-dev/go-coap/v3/dtls/server"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/responsewriter"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"
)

// Config configures an emulated server. The zero value is a NoSec LwM2M
// server on a free loopback port.
type Config struct {
	// Addr is the UDP listen address (default "127.0.0.1:0").
	Addr string
	// PSK enables DTLS: identity → key. Nil means NoSec (coap://).
	PSK map[string][]byte
	// MTU bounds the DTLS handshake datagrams (pion's MTU option, default
	// pion's 1200): 115 keeps every datagram within one SMS when the server
	// is reached through the emulated network's UDP bridge (smsdtls.HandshakeMTU).
	MTU int
	// Bootstrap makes this a bootstrap server: POST /bs?ep= is answered
	// 2.04 and then Bootstrap runs with a handle on the client.
	Bootstrap func(ctx context.Context, c *Client) error
	// RequestTimeout bounds each request to a client (default 10 s).
	RequestTimeout time.Duration
	// Log receives one line per event (default: discard).
	Log *slog.Logger
}

// EventKind names what a client did.
type EventKind string

// Event kinds.
const (
	Registered     EventKind = "register"
	Updated        EventKind = "update"
	Deregistered   EventKind = "deregister"
	BootstrapAsked EventKind = "bootstrap-request"
	BootstrapDone  EventKind = "bootstrap-finish"
)

// Event is one registration-interface request the server accepted.
type Event struct {
	Kind     EventKind
	Endpoint string
	Location string
	// Query holds the Uri-Query parameters (ep, lt, lwm2m, b, sms).
	Query map[string]string
	// Links is the CoRE link-format payload ("" when absent).
	Links string
	At    time.Time
	// Err is set on BootstrapDone when the script failed.
	Err error
}

// Response is a client's answer to a request.
type Response struct {
	Code     codes.Code
	Format   int // Content-Format, -1 when absent
	Payload  []byte
	Location string // Location-Path of a Create
	Observe  *uint32
}

// Server is a running emulated server.
type Server struct {
	cfg    Config
	log    *slog.Logger
	secure bool
	addr   net.Addr

	udp  *udpserver.Server
	dtls *dtlsserver.Server
	wg   sync.WaitGroup
	stop context.CancelFunc
	ctx  context.Context

	mu      sync.Mutex         // guards the fields below
	regs    map[string]*Client // by endpoint
	byLoc   map[string]*Client // by location
	nextID  int
	subs    []chan Event
	obs     map[string]*Observation // by token
	resetOn map[string]bool         // tokens whose next notification gets RST
	closed  bool
}

// Start listens and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: log.With("component", "emu-server"), secure: cfg.PSK != nil,
		regs: map[string]*Client{}, byLoc: map[string]*Client{}, obs: map[string]*Observation{},
		resetOn: map[string]bool{}, ctx: ctx, stop: stop}
	h := options.WithHandlerFunc(udpclient.HandlerFunc(s.handle))
	mon := options.WithRequestMonitor(udpclient.RequestMonitorFunc(s.monitor))
	tick := options.WithPeriodicRunner(fineTicker)
	if !s.secure {
		l, err := coapnet.NewListenUDP("udp", cfg.Addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("emu server: listen %s: %w", cfg.Addr, err)
		}
		s.addr = l.LocalAddr()
		s.udp = udp.NewServer(h, mon, tick, options.WithContext(ctx))
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = s.udp.Serve(l) }()
		return s, nil
	}
	mtu := cfg.MTU
	if mtu <= 0 {
		mtu = 1200 // pion's default
	}
	psk := map[string][]byte{}
	for id, k := range cfg.PSK {
		psk[id] = append([]byte(nil), k...)
	}
	l, err := coapnet.NewDTLSListener("udp", cfg.Addr, coapnet.NewDTLSServerOptions(
		piondtls.WithPSK(func(identity []byte) ([]byte, error) {
			k, ok := psk[string(identity)]
			if !ok {
				return nil, fmt.Errorf("unknown PSK identity %q", identity)
			}
			return k, nil
		}),
		piondtls.WithCipherSuites(piondtls.TLS_PSK_WITH_AES_128_CCM_8, piondtls.TLS_PSK_WITH_AES_128_CCM,
			piondtls.TLS_PSK_WITH_AES_128_GCM_SHA256),
		piondtls.WithMTU(mtu),
	))
	if err != nil {
		stop()
		return nil, fmt.Errorf("emu server: dtls listen %s: %w", cfg.Addr, err)
	}
	s.addr = l.Addr()
	s.dtls = coapdtls.NewServer(h, mon, tick, options.WithContext(ctx))
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.dtls.Serve(l) }()
	return s, nil
}

// URI is the server's coap:// or coaps:// URI.
func (s *Server) URI() string {
	if s.secure {
		return "coaps://" + s.addr.String()
	}
	return "coap://" + s.addr.String()
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, ch := range s.subs {
		close(ch)
	}
	s.subs = nil
	s.mu.Unlock()
	s.stop()
	if s.udp != nil {
		s.udp.Stop()
	}
	if s.dtls != nil {
		s.dtls.Stop()
	}
	s.wg.Wait()
	return nil
}

// Subscribe returns a channel receiving every Event from now on (buffered;
// closed by Close).
func (s *Server) Subscribe() <-chan Event {
	ch := make(chan Event, 256)
	s.mu.Lock()
	if s.closed {
		close(ch)
	} else {
		s.subs = append(s.subs, ch)
	}
	s.mu.Unlock()
	return ch
}

func (s *Server) emit(ev Event) {
	s.log.Info("event", "kind", string(ev.Kind), "endpoint", ev.Endpoint, "location", ev.Location, "query", ev.Query)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- ev:
		default:
			s.log.Warn("event subscriber full: event dropped")
		}
	}
}

// Client returns the registered client ep, or nil.
func (s *Server) Client(ep string) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regs[ep]
}

// monitor runs before go-coap processes a datagram. It answers with RST a
// notification whose observation was marked by CancelByReset (go-coap
// itself would only ACK it).
func (s *Server) monitor(cc *udpclient.Conn, m *pool.Message) (bool, error) {
	if m.Code() != codes.Content || !m.HasOption(message.Observe) {
		return false, nil
	}
	s.mu.Lock()
	rst := s.resetOn[string(m.Token())]
	if rst {
		delete(s.resetOn, string(m.Token()))
		delete(s.obs, string(m.Token()))
	}
	s.mu.Unlock()
	if !rst {
		return false, nil
	}
	s.log.Info("answering notification with RST", "mid", m.MessageID(), "token", m.Token().String())
	r := cc.AcquireMessage(cc.Context())
	defer cc.ReleaseMessage(r)
	r.SetType(message.Reset)
	r.SetCode(codes.Empty)
	r.SetMessageID(m.MessageID())
	r.SetToken(nil)
	if err := cc.Session().WriteMessage(r); err != nil {
		s.log.Warn("send RST", "err", err)
	}
	return true, nil
}

func queryMap(m *pool.Message) map[string]string {
	out := map[string]string{}
	qs, _ := m.Queries()
	for _, q := range qs {
		k, v, _ := strings.Cut(q, "=")
		out[k] = v
	}
	return out
}

// handle serves the registration and bootstrap interfaces. Like the
// engine, it answers requests only; notifications are routed by token.
func (s *Server) handle(w *responsewriter.ResponseWriter[*udpclient.Conn], m *pool.Message) {
	if m.Type() != message.Confirmable && m.Type() != message.NonConfirmable {
		return
	}
	if m.Code() >= codes.Created {
		s.notification(m)
		return
	}
	if m.Code() < codes.GET || m.Code() > codes.DELETE {
		return
	}
	path, _ := m.Path()
	path = "/" + strings.Trim(path, "/")
	q := queryMap(m)
	body, _ := m.ReadBody()
	now := time.Now()
	set := func(c codes.Code) {
		if err := w.SetResponse(c, message.TextPlain, nil); err != nil {
			s.log.Warn("set response", "err", err)
		}
	}
	switch {
	case s.cfg.Bootstrap != nil && m.Code() == codes.POST && path == "/bs":
		ep := q["ep"]
		if ep == "" {
			set(codes.BadRequest)
			return
		}
		c := &Client{srv: s, ep: ep, conn: w.Conn()}
		set(codes.Changed)
		s.emit(Event{Kind: BootstrapAsked, Endpoint: ep, Query: q, At: now})
		// The script starts once our 2.04 is on the wire.
		run := func() {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				err := s.cfg.Bootstrap(s.ctx, c)
				s.emit(Event{Kind: BootstrapDone, Endpoint: ep, At: time.Now(), Err: err})
			}()
		}
		if !responsewriter.AfterWrite(m.Context(), run) {
			run()
		}
	case s.cfg.Bootstrap == nil && m.Code() == codes.POST && path == "/rd":
		ep := q["ep"]
		if ep == "" || q["lwm2m"] == "" {
			set(codes.BadRequest)
			return
		}
		s.mu.Lock()
		if old := s.regs[ep]; old != nil {
			delete(s.byLoc, old.location)
		}
		s.nextID++
		id := strconv.Itoa(s.nextID)
		c := &Client{srv: s, ep: ep, conn: w.Conn(), location: "/rd/" + id, query: q, links: string(body)}
		s.regs[ep], s.byLoc[c.location] = c, c
		s.mu.Unlock()
		set(codes.Created)
		w.Message().AddOptionString(message.LocationPath, "rd")
		w.Message().AddOptionString(message.LocationPath, id)
		s.emit(Event{Kind: Registered, Endpoint: ep, Location: c.location, Query: q, Links: string(body), At: now})
	case s.cfg.Bootstrap == nil && m.Code() == codes.POST && strings.HasPrefix(path, "/rd/"):
		s.mu.Lock()
		c := s.byLoc[path]
		if c != nil {
			c.mu.Lock()
			c.conn = w.Conn()
			for k, v := range q {
				c.query[k] = v
			}
			if len(body) > 0 {
				c.links = string(body)
			}
			c.mu.Unlock()
		}
		s.mu.Unlock()
		if c == nil {
			set(codes.NotFound)
			return
		}
		set(codes.Changed)
		s.emit(Event{Kind: Updated, Endpoint: c.ep, Location: path, Query: q, Links: string(body), At: now})
	case s.cfg.Bootstrap == nil && m.Code() == codes.DELETE && strings.HasPrefix(path, "/rd/"):
		s.mu.Lock()
		c := s.byLoc[path]
		if c != nil {
			delete(s.byLoc, path)
			if s.regs[c.ep] == c {
				delete(s.regs, c.ep)
			}
		}
		s.mu.Unlock()
		if c == nil {
			set(codes.NotFound)
			return
		}
		set(codes.Deleted)
		s.emit(Event{Kind: Deregistered, Endpoint: c.ep, Location: path, At: now})
	default:
		set(codes.NotFound)
	}
}

// notification delivers a 2.05 carrying an observation's token.
func (s *Server) notification(m *pool.Message) {
	s.mu.Lock()
	o := s.obs[string(m.Token())]
	s.mu.Unlock()
	if o == nil {
		return
	}
	n := Notification{Format: -1, At: time.Now()}
	if v, err := m.Observe(); err == nil {
		n.Seq = v
	}
	if cf, err := m.ContentFormat(); err == nil {
		n.Format = int(cf)
	}
	n.Payload, _ = m.ReadBody()
	select {
	case o.ch <- n:
	default:
	}
}

// Client is a registered (or bootstrapping) LwM2M client as the server sees
// it. Its methods issue device-management requests.
type Client struct {
	srv *Server
	ep  string

	mu       sync.Mutex // guards the fields below
	conn     *udpclient.Conn
	location string
	query    map[string]string
	links    string
}

// Endpoint is the client's endpoint name.
func (c *Client) Endpoint() string { return c.ep }

// Location is the registration's location ("/rd/1").
func (c *Client) Location() string { c.mu.Lock(); defer c.mu.Unlock(); return c.location }

// Links is the last CoRE link payload the client sent.
func (c *Client) Links() string { c.mu.Lock(); defer c.mu.Unlock(); return c.links }

func (c *Client) cc() *udpclient.Conn { c.mu.Lock(); defer c.mu.Unlock(); return c.conn }

// ErrNoResponse wraps transport failures of a request.
var ErrNoResponse = errors.New("emu server: no response")

func (c *Client) do(ctx context.Context, code codes.Code, path string, cf int, payload []byte, opts ...message.Option) (Response, error) {
	cc := c.cc()
	ctx, cancel := context.WithTimeout(ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	req := cc.AcquireMessage(ctx)
	defer cc.ReleaseMessage(req)
	tok, err := message.GetToken()
	if err != nil {
		return Response{}, err
	}
	req.SetToken(tok)
	req.SetCode(code)
	req.SetType(message.Confirmable)
	if err := req.SetPath(path); err != nil {
		return Response{}, err
	}
	for _, o := range opts {
		req.AddOptionBytes(o.ID, o.Value)
	}
	if cf >= 0 {
		req.SetContentFormat(message.MediaType(cf))
	}
	if payload != nil {
		req.SetBody(bytes.NewReader(payload))
	}
	start := time.Now()
	resp, err := cc.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %s %s: %w", ErrNoResponse, code, path, err)
	}
	defer cc.ReleaseMessage(resp)
	out := Response{Code: resp.Code(), Format: -1}
	if f, err := resp.ContentFormat(); err == nil {
		out.Format = int(f)
	}
	if lp, err := resp.Options().LocationPath(); err == nil && lp != "" {
		out.Location = "/" + strings.Trim(lp, "/")
	}
	if v, err := resp.Observe(); err == nil {
		out.Observe = &v
	}
	out.Payload, _ = resp.ReadBody()
	c.srv.log.Info("request", "endpoint", c.ep, "method", code.String(), "path", path, "code", out.Code.String(), "duration", time.Since(start))
	return out, nil
}

func acceptOpt(f int) []message.Option {
	if f < 0 {
		return nil
	}
	var buf [4]byte
	n, _ := message.EncodeUint32(buf[:], uint32(f))
	return []message.Option{{ID: message.Accept, Value: buf[:n]}}
}

// Read is GET path with an optional Accept (-1: none).
func (c *Client) Read(ctx context.Context, path string, accept int) (Response, error) {
	return c.do(ctx, codes.GET, path, -1, nil, acceptOpt(accept)...)
}

// Discover is GET path with Accept: application/link-format.
func (c *Client) Discover(ctx context.Context, path string) (Response, error) {
	return c.do(ctx, codes.GET, path, -1, nil, acceptOpt(40)...)
}

// Write is PUT (replace) or, with partial, POST (partial update).
func (c *Client) Write(ctx context.Context, path string, format int, payload []byte, partial bool) (Response, error) {
	code := codes.PUT
	if partial {
		code = codes.POST
	}
	if payload == nil {
		payload = []byte{}
	}
	return c.do(ctx, code, path, format, payload)
}

// Execute is POST path with optional plain-text arguments.
func (c *Client) Execute(ctx context.Context, path string, args string) (Response, error) {
	var p []byte
	if args != "" {
		p = []byte(args)
	}
	return c.do(ctx, codes.POST, path, -1, p)
}

// Create is POST /O with a TLV or JSON instance.
func (c *Client) Create(ctx context.Context, path string, format int, payload []byte) (Response, error) {
	return c.do(ctx, codes.POST, path, format, payload)
}

// Delete is DELETE path.
func (c *Client) Delete(ctx context.Context, path string) (Response, error) {
	return c.do(ctx, codes.DELETE, path, -1, nil)
}

// WriteAttributes is PUT path with attribute queries ("pmin=1", "pmax=2",
// "gt=20.5", "pmin" to clear) and no payload.
func (c *Client) WriteAttributes(ctx context.Context, path string, attrs ...string) (Response, error) {
	opts := make([]message.Option, 0, len(attrs))
	for _, a := range attrs {
		opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(a)})
	}
	return c.do(ctx, codes.PUT, path, -1, nil, opts...)
}

// BootstrapFinish is POST /bs (bootstrap interface).
func (c *Client) BootstrapFinish(ctx context.Context) (Response, error) {
	return c.do(ctx, codes.POST, "/bs", -1, nil)
}

// Notification is one Observe notification.
type Notification struct {
	Seq     uint32
	Format  int
	Payload []byte
	At      time.Time
}

// Observation is an Observe relationship started by the server.
type Observation struct {
	c     *Client
	path  string
	token message.Token
	ch    chan Notification
	// First is the response to the Observe request.
	First Response
}

// C delivers notifications (buffered; overflow dropped).
func (o *Observation) C() <-chan Notification { return o.ch }

// Observe sends GET with Observe=0 (RFC 7641 §2) and returns the
// observation when the client answered 2.05 with an Observe option.
func (c *Client) Observe(ctx context.Context, path string, accept int) (*Observation, error) {
	tok, err := message.GetToken()
	if err != nil {
		return nil, err
	}
	o := &Observation{c: c, path: path, token: tok, ch: make(chan Notification, 64)}
	c.srv.mu.Lock()
	c.srv.obs[string(tok)] = o
	c.srv.mu.Unlock()
	resp, err := c.doToken(ctx, tok, path, 0, accept)
	if err != nil || resp.Code != codes.Content || resp.Observe == nil {
		c.srv.mu.Lock()
		delete(c.srv.obs, string(tok))
		c.srv.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("emu server: observe %s: %v (observe option present: %v)", path, resp.Code, resp.Observe != nil)
		}
		return nil, err
	}
	o.First = resp
	return o, nil
}

func (c *Client) doToken(ctx context.Context, tok message.Token, path string, observe uint32, accept int) (Response, error) {
	cc := c.cc()
	ctx, cancel := context.WithTimeout(ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	req, err := cc.NewGetRequest(ctx, path, acceptOpt(accept)...)
	if err != nil {
		return Response{}, err
	}
	defer cc.ReleaseMessage(req)
	req.SetToken(tok)
	req.SetObserve(observe)
	resp, err := cc.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%w: observe=%d %s: %w", ErrNoResponse, observe, path, err)
	}
	defer cc.ReleaseMessage(resp)
	out := Response{Code: resp.Code(), Format: -1}
	if f, err := resp.ContentFormat(); err == nil {
		out.Format = int(f)
	}
	if v, err := resp.Observe(); err == nil {
		out.Observe = &v
	}
	out.Payload, _ = resp.ReadBody()
	return out, nil
}

// Cancel ends the observation with GET Observe=1 (RFC 7641 §3.6).
func (o *Observation) Cancel(ctx context.Context) (Response, error) {
	o.c.srv.mu.Lock()
	delete(o.c.srv.obs, string(o.token))
	o.c.srv.mu.Unlock()
	// A notification in flight carries the same token and may be taken for
	// the answer; the real answer has no Observe option, so ask again
	// (cancelling is idempotent).
	for i := 0; ; i++ {
		resp, err := o.c.doToken(ctx, o.token, o.path, 1, -1)
		if err != nil || resp.Observe == nil || i == 2 {
			return resp, err
		}
	}
}

// CancelByReset makes the server answer the next notification of this
// observation with RST, the other cancellation of RFC 7641 §3.6.
func (o *Observation) CancelByReset() {
	o.c.srv.mu.Lock()
	o.c.srv.resetOn[string(o.token)] = true
	o.c.srv.mu.Unlock()
}

// fineTicker is the go-coap periodic runner of both sides (UDP/DTLS and
// SMS): go-coap's default ticks every 4 s; retransmissions and expirations
// need a finer tick. It runs f every 50 ms until f returns false.
func fineTicker(f func(now time.Time) bool) {
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for now := range t.C {
			if !f(now) {
				return
			}
		}
	}()
}
