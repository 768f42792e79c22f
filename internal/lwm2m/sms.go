package lwm2m

// Registration over SMS (bindings S and SQ, LwM2M-TS 1.0 §5.3.1.1 Table 8,
// §8.6.2; spec digest lwm2m.md §3.1, §9): the registration's connection is
// the account's CoAP-over-SMS connection from Config.DialSMS, with that
// connection's Transport (SMS-sized ACK timeout, no CoAP retransmission,
// 2-byte tokens, 64-octet blocks). It carries the registration interface,
// the server's requests and the notifications, so observations work over
// SMS like over UDP.
//
// A Register (or an Update carrying links) that does not fit one SMS goes
// block-wise (RFC 7959 Block1) in the largest block size for which every
// block fits Transport.MaxDatagram. go-coap's own Block1 takes the
// connection's block size, the same one its Block2 responses use, and a
// Register's options (ep, lt, lwm2m, b, sms) leave far less room in one SMS
// than a response's, so that exchange is driven here: each block is written
// on the session and its answer taken off the connection's request monitor
// before go-coap's block-wise layer sees it.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// ErrTooLargeForSMS reports a request whose options alone leave no room for
// the smallest block (16 octets, RFC 7959 §2.2) in one SMS.
var ErrTooLargeForSMS = errors.New("request does not fit one SMS even with 16-octet blocks")

// registersOverSMS reports whether a binding registers over SMS: S or SQ
// (LwM2M-TS 1.0 §5.3.1.1 Table 8). US and UQS register over UDP and answer
// SMS requests by SMS.
func registersOverSMS(binding string) bool {
	return strings.Contains(binding, "S") && !strings.Contains(binding, "U")
}

// SMSFallbackAfter is how many registration failures in a row over UDP make
// a US client register over SMS instead (PROJECT DEFAULT; LwM2M-TS 1.0
// §5.3.1.1 Table 8: with US the client may use either transport).
const SMSFallbackAfter = 2

// fallsBackToSMS reports whether a binding registers over UDP but may fall
// back to SMS when UDP keeps failing: US. (UQS uses SMS for the server's
// requests and the trigger; its registration stays on UDP.)
func fallsBackToSMS(binding string) bool { return binding == "US" }

// newTokenSource returns a go-coap token generator of n-octet tokens: a
// counter from a random start, so tokens of one connection do not repeat
// within 2^(8n) requests (RFC 7252 §5.3.1 asks only for uniqueness among
// the client's outstanding requests).
func newTokenSource(n int, rnd io.Reader) func() (message.Token, error) {
	var b [8]byte
	_, _ = io.ReadFull(rnd, b[:])
	next := binary.BigEndian.Uint64(b[:])
	var mu sync.Mutex
	return func() (message.Token, error) {
		mu.Lock()
		v := next
		next++
		mu.Unlock()
		binary.BigEndian.PutUint64(b[:], v)
		return append(message.Token(nil), b[8-n:]...), nil
	}
}

// b1Answer is an answer to one block the registration wrote itself.
type b1Answer struct {
	typ      message.Type
	mid      int32
	code     codes.Code
	block1   uint32
	hasB1    bool
	location string
}

// b1Wait is the block exchange in progress (at most one: NSTART = 1).
type b1Wait struct {
	token message.Token
	mid   int32
	ch    chan b1Answer // buffered 1
}

// b1Monitor takes the answers to the blocks the registration writes itself
// off a connection before go-coap processes them. Its methods run on the
// connection's reader goroutine (monitor) and on the registration's.
type b1Monitor struct {
	mu  sync.Mutex // guards cur
	cur *b1Wait
}

func (b *b1Monitor) set(w *b1Wait) {
	b.mu.Lock()
	b.cur = w
	b.mu.Unlock()
}

// monitor is the connection's go-coap request monitor: it drops (takes) the
// piggy-backed or separate response to the current block, its empty ACK
// and an RST of it.
func (b *b1Monitor) monitor(_ *udpclient.Conn, m *pool.Message) (bool, error) {
	b.mu.Lock()
	w := b.cur
	b.mu.Unlock()
	if w == nil {
		return false, nil
	}
	switch {
	case m.Type() == message.Reset && m.MessageID() == w.mid:
		w.put(b1Answer{typ: message.Reset, mid: m.MessageID()})
		return true, nil
	case m.Code() == codes.Empty && m.Type() == message.Acknowledgement && m.MessageID() == w.mid:
		return true, nil // a separate response follows (RFC 7252 §5.2.2)
	case m.Code() >= codes.Created && bytes.Equal(m.Token(), w.token) &&
		(m.Type() != message.Acknowledgement || m.MessageID() == w.mid):
		a := b1Answer{typ: m.Type(), mid: m.MessageID(), code: m.Code()}
		if v, err := m.GetOptionUint32(message.Block1); err == nil {
			a.block1, a.hasB1 = v, true
		}
		if lp, err := m.Options().LocationPath(); err == nil {
			a.location = lp
		}
		w.put(a)
		return true, nil
	}
	return false, nil
}

func (w *b1Wait) put(a b1Answer) {
	select {
	case w.ch <- a:
	default: // a duplicate
	}
}

// blockPlan is how a payload-carrying request is cut: size 0 means it goes
// whole, in one message.
type blockPlan struct {
	size   int
	blocks int
	header int // octets of the largest block's message without payload
}

// planBlocks chooses the largest block size (1024 down to 16, RFC 7959 §2.2)
// for which every block of body, with opts, fits maxDatagram octets; or
// none when the whole request fits.
func planBlocks(code codes.Code, path string, opts message.Options, tokenLen int, body []byte, maxDatagram int) (blockPlan, error) {
	base, err := requestSize(code, path, opts, tokenLen, nil, 0, false)
	if err != nil {
		return blockPlan{}, err
	}
	if maxDatagram <= 0 || base+1+len(body) <= maxDatagram {
		return blockPlan{}, nil
	}
	for size := 1024; size >= 16; size /= 2 {
		n := (len(body) + size - 1) / size
		h, err := requestSize(code, path, opts, tokenLen, body, n-1, true)
		if err != nil {
			return blockPlan{}, err
		}
		if h+1+size <= maxDatagram {
			return blockPlan{size: size, blocks: n, header: h}, nil
		}
	}
	h, _ := requestSize(code, path, opts, tokenLen, body, 0, true)
	return blockPlan{}, fmt.Errorf("%w: %d octets of options and header, at most %d octets per SMS", ErrTooLargeForSMS, h, maxDatagram)
}

// requestSize is the encoded size of the request without payload, with the
// Block1 (number num, M=1) and Size1 options when block.
func requestSize(code codes.Code, path string, opts message.Options, tokenLen int, body []byte, num int, block bool) (int, error) {
	m := message.Message{Code: code, Type: message.Confirmable, Token: make([]byte, tokenLen), MessageID: 0xFFFF}
	buf := make([]byte, 256)
	o, n, err := message.Options{}.SetPath(buf, path)
	if err != nil {
		return 0, err
	}
	buf = buf[n:]
	for _, op := range opts {
		o = o.Add(op)
	}
	if block {
		v, err := blockwise.EncodeBlockOption(blockwise.SZX16, int64(num), true)
		if err != nil {
			return 0, err
		}
		var n1, n2 int
		if o, n1, err = o.SetUint32(buf, message.Block1, v); err != nil {
			return 0, err
		}
		buf = buf[n1:]
		if o, n2, err = o.SetUint32(buf, message.Size1, uint32(len(body))); err != nil {
			return 0, err
		}
		_ = n2
	}
	m.Options = o
	return coder.DefaultCoder.Size(m)
}

// regAnswer is the final answer to a Register or Update.
type regAnswer struct {
	code     codes.Code
	location string // Location-Path without leading "/", "" when absent
}

// postBlocks sends POST path?opts with body (CoRE links) on cc, whole or in
// the blocks plan says, each a CON with its own Message ID, the same token, Block1 and
// Size1 (RFC 7959 §2.3, §2.5, §4), and returns the final answer. Without
// CoAP retransmission (SMS, LwM2M-TS 1.0 §8.6.2) each block is written once;
// ctx bounds the whole exchange. A server asking for smaller blocks in its
// 2.31 gets them (RFC 7959 §2.3).
func postBlocks(ctx context.Context, cc *udpclient.Conn, mon *b1Monitor, path string, opts message.Options, body []byte, plan blockPlan) (regAnswer, error) {
	tok, err := cc.GetToken()
	if err != nil {
		return regAnswer{}, fmt.Errorf("token: %w", err)
	}
	if plan.size == 0 { // the whole request fits one datagram
		ans, err := postBlock(ctx, cc, mon, tok, path, opts, body, 0, 0, false, body)
		return regAnswer{code: ans.code, location: ans.location}, err
	}
	size, off := plan.size, 0
	for {
		num := off / size
		end := min(off+size, len(body))
		more := end < len(body)
		ans, err := postBlock(ctx, cc, mon, tok, path, opts, body, num, size, more, body[off:end])
		if err != nil {
			return regAnswer{}, fmt.Errorf("block %d: %w", num, err)
		}
		if ans.code != codes.Continue || !more {
			return regAnswer{code: ans.code, location: ans.location}, nil
		}
		off = end
		if ans.hasB1 {
			if szx, _, _, err := blockwise.DecodeBlockOption(ans.block1); err == nil && int(szx.Size()) < size {
				size = int(szx.Size()) // later blocks in the server's size; off is a multiple of it
			}
		}
	}
}

// postBlock writes one block and waits for its answer, acknowledging a
// separate (CON) response.
func postBlock(ctx context.Context, cc *udpclient.Conn, mon *b1Monitor, tok message.Token, path string, opts message.Options, body []byte, num, size int, more bool, chunk []byte) (b1Answer, error) {
	req := cc.AcquireMessage(ctx)
	defer cc.ReleaseMessage(req)
	req.SetCode(codes.POST)
	req.SetType(message.Confirmable)
	req.SetToken(tok)
	if err := req.SetPath(path); err != nil {
		return b1Answer{}, err
	}
	for _, o := range opts {
		req.AddOptionBytes(o.ID, o.Value)
	}
	req.SetContentFormat(message.AppLinkFormat)
	if size > 0 {
		sz, err := szx(size)
		if err != nil {
			return b1Answer{}, err
		}
		v, err := blockwise.EncodeBlockOption(sz, int64(num), more)
		if err != nil {
			return b1Answer{}, err
		}
		req.SetOptionUint32(message.Block1, v)
		req.SetOptionUint32(message.Size1, uint32(len(body)))
	}
	req.SetBody(bytes.NewReader(chunk))
	mid := cc.GetMessageID()
	req.SetMessageID(mid)
	w := &b1Wait{token: tok, mid: mid, ch: make(chan b1Answer, 1)}
	mon.set(w)
	defer mon.set(nil)
	if err := cc.Session().WriteMessage(req); err != nil {
		return b1Answer{}, fmt.Errorf("write: %w", err)
	}
	select {
	case a := <-w.ch:
		if a.typ == message.Reset {
			return b1Answer{}, errors.New("server answered with RST")
		}
		if a.typ == message.Confirmable {
			ack := cc.AcquireMessage(ctx)
			ack.SetType(message.Acknowledgement)
			ack.SetCode(codes.Empty)
			ack.SetMessageID(a.mid)
			ack.SetToken(nil)
			_ = cc.Session().WriteMessage(ack)
			cc.ReleaseMessage(ack)
		}
		return a, nil
	case <-cc.Done():
		return b1Answer{}, errors.New("connection closed")
	case <-ctx.Done():
		return b1Answer{}, ctx.Err()
	}
}
