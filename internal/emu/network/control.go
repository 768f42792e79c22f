package network

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// SMSRequest is the body of POST /sms: either PDU (an SMS-DELIVER or
// SMS-SUBMIT TPDU in hex; its sender becomes From) or the fields PID, DCS,
// UDH (hex of the information elements, without the UDHL octet, as
// "lwm2m-clientd sms encode --udh" takes them) and UD (hex: octets, or one
// septet per octet for GSM 7-bit).
type SMSRequest struct {
	From string `json:"from"`
	PDU  string `json:"pdu,omitempty"`
	PID  *int   `json:"pid,omitempty"`
	DCS  *int   `json:"dcs,omitempty"`
	UDH  string `json:"udh,omitempty"`
	UD   string `json:"ud,omitempty"`
}

// SentJSON is one entry of GET /sms/sent.
type SentJSON struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	PDU  string    `json:"pdu"` // hex SMS-SUBMIT TPDU
	Time time.Time `json:"time"`
}

// Handler serves the control API for subscriber to (the emulated modem):
//
//	POST /sms        SMSRequest → 202 {"status":"queued"}
//	GET  /sms/sent   [SentJSON...]
//	POST /faults     Faults → 200 Faults; GET /faults reads them
//	GET  /bridges    {"+336...": BridgeStats, ...}: what each UDP bridge carried
func (n *Network) Handler(to string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sms", func(w http.ResponseWriter, r *http.Request) {
		var req SMSRequest
		if err := decodeJSON(r, &req); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		d, err := req.deliver()
		if err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		if err := n.SendFrom(req.From, to, d); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	})
	mux.HandleFunc("GET /sms/sent", func(w http.ResponseWriter, r *http.Request) {
		out := []SentJSON{}
		for _, s := range n.Sent() {
			out = append(out, SentJSON{From: s.From, To: s.To, PDU: strings.ToUpper(hex.EncodeToString(s.PDU)), Time: s.Time})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		f := n.Faults()
		if err := decodeJSON(r, &f); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		if f.Loss < 0 || f.Loss > 1 || f.Duplication < 0 || f.Duplication > 1 || f.Delay < 0 || f.Jitter < 0 {
			httpError(w, http.StatusBadRequest, errors.New("loss and duplication are probabilities 0–1; delay and jitter ≥ 0"))
			return
		}
		n.SetFaults(f)
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Faults())
	})
	mux.HandleFunc("GET /bridges", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.AllBridgeStats())
	})
	return mux
}

func (req SMSRequest) deliver() (atpdu.Deliver, error) {
	if req.From == "" {
		return atpdu.Deliver{}, errors.New(`"from" is required`)
	}
	if req.PDU != "" {
		if req.PID != nil || req.DCS != nil || req.UDH != "" || req.UD != "" {
			return atpdu.Deliver{}, errors.New(`give "pdu" or the fields, not both`)
		}
		b, err := hex.DecodeString(req.PDU)
		if err != nil {
			return atpdu.Deliver{}, fmt.Errorf("pdu: %w", err)
		}
		if d, err := atpdu.DecodeDeliver(b); err == nil {
			return d, nil
		}
		s, err := atpdu.DecodeSubmit(b)
		if err != nil {
			return atpdu.Deliver{}, fmt.Errorf("pdu is neither an SMS-DELIVER nor an SMS-SUBMIT: %w", err)
		}
		return atpdu.Deliver{PID: s.PID, DCS: s.DCS, UDH: s.UDH, UD: s.UD, MMS: true}, nil
	}
	d := atpdu.Deliver{DCS: 0x04, MMS: true}
	if req.PID != nil {
		if *req.PID < 0 || *req.PID > 255 {
			return d, errors.New("pid out of range")
		}
		d.PID = atpdu.PID(*req.PID)
	}
	if req.DCS != nil {
		if *req.DCS < 0 || *req.DCS > 255 {
			return d, errors.New("dcs out of range")
		}
		d.DCS = atpdu.DCS(*req.DCS)
	}
	ud, err := hex.DecodeString(req.UD)
	if err != nil {
		return d, fmt.Errorf("ud: %w", err)
	}
	d.UD = ud
	if req.UDH != "" {
		h, err := hex.DecodeString(req.UDH)
		if err != nil {
			return d, fmt.Errorf("udh: %w", err)
		}
		if d.UDH, err = splitIEs(h); err != nil {
			return d, fmt.Errorf("udh: %w", err)
		}
	}
	return d, nil
}

// splitIEs reads the information elements of a user data header
// (TS 23.040 §9.2.3.24: IEI, IEDL, IED; the UDHL octet is not given).
func splitIEs(h []byte) (atpdu.UDH, error) {
	var out atpdu.UDH
	for len(h) > 0 {
		if len(h) < 2 || int(h[1]) > len(h)-2 {
			return nil, errors.New("truncated information element")
		}
		out = append(out, atpdu.IE{IEI: h[0], Data: append([]byte(nil), h[2:2+int(h[1])]...)})
		h = h[2+int(h[1]):]
	}
	return out, nil
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
