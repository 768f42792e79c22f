package atpdu_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// unhex decodes hex with optional spaces; a bad literal fails the test.
func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex literal %q: %v", s, err)
	}
	return b
}

// appender is what every decoded TPDU is.
type appender interface {
	Append(dst []byte) ([]byte, error)
}

// decodeAny decodes a TPDU by its TP-MTI.
func decodeAny(tpdu []byte) (appender, error) {
	t, err := atpdu.TypeOf(tpdu)
	if err != nil {
		return nil, err
	}
	switch t {
	case atpdu.TypeSubmit:
		return atpdu.DecodeSubmit(tpdu)
	case atpdu.TypeStatusReport:
		return atpdu.DecodeStatusReport(tpdu)
	default:
		return atpdu.DecodeDeliver(tpdu)
	}
}

// septets is a helper for expected GSM 7-bit UD built from ASCII-safe text.
func septets(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := atpdu.EncodeGSM7(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
