package lwm2m

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/net/responsewriter"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// Observe option values, RFC 7641 §2.
const (
	observeRegister   = 0
	observeDeregister = 1
)

// peer is what the CoAP handler serves for: one DM server's registration or
// the bootstrap session.
type peer interface {
	// serverID is the Short Server ID (0 for the bootstrap server).
	serverID() uint16
	bootstrap() bool
	// served is called after a request was answered (hooks: trigger,
	// disable, changed configuration, Bootstrap-Finish); it runs on the
	// connection's goroutine and must not block.
	served(req Request, resp Response)
	// observer is nil for the bootstrap session.
	observer() *observer
	// touched records an exchange (queue-mode awake time).
	touched()
}

// serveCoAP is the go-coap handler of every engine connection.
//
// go-coap calls it for every message its token/MID bookkeeping did not
// swallow, including ACKs carrying no request and RSTs. Answering those makes
// two peers ping-pong forever, so only requests (CON/NON with a method code)
// are answered; an RST is matched against the notifications sent to detect
// the "cancel observation by RST" of RFC 7641 §3.6 (go-coap reports an RST
// to the sender like an ACK, so the handler is the only place it shows).
func (e *Engine) serveCoAP(p peer) udpclient.HandlerFunc {
	return func(w *responsewriter.ResponseWriter[*udpclient.Conn], m *pool.Message) {
		if m.Type() != message.Confirmable && m.Type() != message.NonConfirmable {
			e.log.Debug("coap message (not a request)", "server_id", p.serverID(), "type", m.Type().String(), "mid", m.MessageID(), "code", m.Code().String())
		}
		switch m.Type() {
		case message.Reset:
			if o := p.observer(); o != nil {
				o.resetByMID(m.MessageID())
			}
			return
		case message.Confirmable, message.NonConfirmable:
		default:
			return
		}
		if m.Code() < codes.GET || m.Code() > codes.DELETE {
			// Responses and unknown methods: never answered here (an
			// unknown method gets 4.05 from the switch below only when it
			// is a request code; 0.05+ are FETCH/PATCH: 4.05).
			if m.Code() >= codes.FETCH && m.Code() < 32 {
				e.respond(w, Response{Code: codes.MethodNotAllowed, Format: FormatNone})
			}
			return
		}
		p.touched()
		start := e.clock.Now()
		resp, req := e.handleRequest(m.Context(), p, w, m)
		e.respond(w, resp)
		lvl := slog.LevelInfo
		if resp.Code >= codes.BadRequest {
			lvl = slog.LevelWarn
		}
		e.log.Log(context.Background(), lvl, "server request", "server_id", p.serverID(),
			"method", m.Code().String(), "path", pathOf(m), "op", req.Op.String(),
			"code", resp.Code.String(), "duration", e.clock.Now().Sub(start).Round(time.Microsecond))
		if resp.Code < codes.BadRequest {
			// Hooks (trigger → Update, Disable, Bootstrap-Finish) run
			// once the response is on the wire: the server must see the
			// 2.04 before what it causes.
			if !responsewriter.AfterWrite(m.Context(), func() { p.served(req, resp) }) {
				p.served(req, resp)
			}
		}
	}
}

func pathOf(m *pool.Message) string {
	s, err := m.Path()
	if err != nil || s == "" {
		return "/"
	}
	return s
}

// respond writes resp. A payload that cannot be sent in one message while
// block-wise is off becomes 5.00: go-coap closes the connection when a
// response write fails, which would drop the registration's session.
func (e *Engine) respond(w *responsewriter.ResponseWriter[*udpclient.Conn], resp Response) {
	var body *bytes.Reader
	mt := message.MediaType(0)
	if resp.Format != FormatNone {
		mt = message.MediaType(resp.Format)
	}
	if resp.Payload != nil || resp.Format != FormatNone {
		if e.cfg.DisableBlockwise && len(resp.Payload)+maxHeaderOverhead > int(e.cfg.MaxMessageSize) {
			e.log.Warn("response too large for one message and block-wise is off", "size", len(resp.Payload))
			resp = Response{Code: codes.InternalServerError, Format: FormatNone}
		} else {
			body = bytes.NewReader(resp.Payload)
		}
	}
	var err error
	if body == nil {
		err = w.SetResponse(resp.Code, message.TextPlain, nil)
	} else {
		err = w.SetResponse(resp.Code, mt, body)
	}
	if err != nil {
		e.log.Error("set response", "err", err)
		return
	}
	if len(resp.Location) > 0 {
		w.Message().Remove(message.LocationPath)
		for _, id := range resp.Location {
			w.Message().AddOptionString(message.LocationPath, strconv.Itoa(int(id)))
		}
	}
	if resp.observeSeq != nil {
		w.Message().SetObserve(*resp.observeSeq)
	}
}

// maxHeaderOverhead is a generous bound on a response's header, token and
// options (RFC 7252 §3: 4 + 8 + options).
const maxHeaderOverhead = 64

// errResp builds an error Response.
func errResp(c codes.Code) Response { return Response{Code: c, Format: FormatNone} }

// handleRequest maps one CoAP request onto an LwM2M operation
// (LwM2M-TS 1.0 §8.2 Tables 2–4, lwm2m.md §8.3/§8.4) and serves it. Any
// panic below becomes 5.00 (§8.5), never a crash.
func (e *Engine) handleRequest(ctx context.Context, p peer, w *responsewriter.ResponseWriter[*udpclient.Conn], m *pool.Message) (resp Response, req Request) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("request handler panicked", "server_id", p.serverID(), "panic", fmt.Sprint(r))
			resp = errResp(codes.InternalServerError)
		}
	}()
	req, bad := e.decodeRequest(p, m)
	if bad != 0 {
		return errResp(bad), req
	}
	if req.Op == OpBootstrapFinish {
		return e.objs.Serve(ctx, req), req
	}
	obsOpt, obsErr := m.Observe()
	hasObserve := obsErr == nil && req.Op == OpRead
	if hasObserve && obsOpt == observeDeregister {
		if o := p.observer(); o != nil {
			o.cancel(m.Token(), "observe=1")
		}
	}
	resp = e.objs.Serve(ctx, req)
	if hasObserve && obsOpt == observeRegister && resp.Code == codes.Content {
		if o := p.observer(); o != nil && len(m.Token()) > 0 {
			seq := o.add(w.Conn(), m.Token(), req, resp)
			resp.observeSeq = &seq
		}
	}
	return resp, req
}

// decodeRequest returns the Request, or a 4.xx code when the message cannot
// be one.
func (e *Engine) decodeRequest(p peer, m *pool.Message) (Request, codes.Code) {
	req := Request{ServerID: p.serverID(), Bootstrap: p.bootstrap(), Format: FormatNone, Accept: FormatNone}
	raw := pathOf(m)
	if p.bootstrap() && m.Code() == codes.POST && strings.Trim(raw, "/") == "bs" {
		req.Op = OpBootstrapFinish
		return req, 0
	}
	path, err := ParsePath(raw)
	if err != nil {
		return req, codes.NotFound
	}
	req.Path = path
	if cf, err := m.ContentFormat(); err == nil {
		req.Format = Format(cf)
	}
	if a, err := m.Accept(); err == nil {
		req.Accept = Format(a)
	}
	body, err := m.ReadBody()
	if err != nil {
		return req, codes.BadRequest
	}
	req.Payload = body
	queries, _ := m.Queries()
	switch m.Code() {
	case codes.GET:
		req.Op = OpRead
		if req.Accept == FormatLinkFmt {
			req.Op = OpDiscover
		}
	case codes.PUT:
		if len(body) == 0 && len(queries) > 0 {
			req.Op = OpWriteAttributes
			a, err := parseAttributes(queries)
			if err != nil {
				return req, codes.BadRequest
			}
			req.Attributes, req.Query = a, queries
			return req, 0
		}
		req.Op = OpWrite
		if req.Format == FormatNone {
			return req, codes.BadRequest
		}
	case codes.POST:
		switch len(path) {
		case 1:
			req.Op = OpCreate
		case 2:
			req.Op = OpWritePartial
		case 3:
			req.Op = OpExecute
		default:
			return req, codes.MethodNotAllowed
		}
		if req.Op != OpExecute && req.Format == FormatNone && len(body) > 0 {
			return req, codes.BadRequest
		}
	case codes.DELETE:
		req.Op = OpDelete
	default:
		return req, codes.MethodNotAllowed
	}
	return req, 0
}

// parseAttributes parses Write-Attributes queries (LwM2M-TS 1.0 §5.1.2,
// §8.2 Table 3): pmin/pmax in seconds, gt/lt/st as numbers; a parameter
// without a value clears it.
func parseAttributes(queries []string) (Attributes, error) {
	var a Attributes
	for _, q := range queries {
		name, val, hasVal := strings.Cut(q, "=")
		switch name {
		case "pmin", "pmax":
			var d *time.Duration
			if hasVal {
				n, err := strconv.ParseUint(val, 10, 31)
				if err != nil {
					return a, fmt.Errorf("attribute %s=%q: %w", name, val, err)
				}
				v := time.Duration(n) * time.Second
				d = &v
			}
			if name == "pmin" {
				a.Pmin, a.ClearPmin = d, !hasVal
			} else {
				a.Pmax, a.ClearPmax = d, !hasVal
			}
		case "gt", "lt", "st":
			var f *float64
			if hasVal {
				v, err := strconv.ParseFloat(val, 64)
				if err != nil {
					return a, fmt.Errorf("attribute %s=%q: %w", name, val, err)
				}
				// LwM2M-TS 1.0 §5.1.2: gt/lt/st are Float thresholds; NaN
				// and ±Inf (which ParseFloat accepts as "NaN", "Inf", …)
				// would make every comparison false or true forever.
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return a, fmt.Errorf("attribute %s=%q: not a finite number", name, val)
				}
				if name == "st" && v < 0 {
					return a, errors.New("attribute st must not be negative")
				}
				f = &v
			}
			switch name {
			case "gt":
				a.Gt, a.ClearGt = f, !hasVal
			case "lt":
				a.Lt, a.ClearLt = f, !hasVal
			default:
				a.St, a.ClearSt = f, !hasVal
			}
		default:
			return a, fmt.Errorf("unknown attribute %q", name)
		}
	}
	return a, nil
}

// serve calls Objects.Serve for the engine's own reads (notifications),
// turning a panic into 5.00 like the request path does.
func (e *Engine) serve(ctx context.Context, req Request) (resp Response) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("object read panicked", "server_id", req.ServerID, "path", req.Path.String(), "panic", fmt.Sprint(r))
			resp = errResp(codes.InternalServerError)
		}
	}()
	return e.objs.Serve(ctx, req)
}
