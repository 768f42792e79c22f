package modem

import (
	"bytes"
	"strconv"
	"strings"
)

// maxLine bounds a line without terminator: a longer run of bytes (garbage
// on the wire) is returned as one token instead of stopping the scanner.
const maxLine = 4096

// promptToken is the token scanLines returns for the bare "> " prompt of
// +CMGS/+CNMA (TS 27.005 §3.5.1), which has no line terminator.
const promptToken = "> "

// garbageToken replaces bytes that cannot be part of an AT dialogue: the
// rest of an overlong line. Modems answer in printable ASCII.
const garbageToken = "\x00"

// lineSplitter is a bufio.SplitFunc for the AT dialogue: lines end in CR,
// LF or both; empty lines are skipped; "> " at the start of a line is a
// token of its own even though no terminator follows it. A line longer
// than maxLine is garbage: one garbageToken, then everything up to the
// next terminator is discarded. Owned by the reader goroutine.
type lineSplitter struct {
	discarding bool // inside an overlong line
}

func (s *lineSplitter) split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if s.discarding {
		j := bytes.IndexAny(data, "\r\n")
		if j < 0 {
			return len(data), nil, nil
		}
		s.discarding = false
		// bufio.Scanner reads more before calling again after a nil
		// token, so the lines already buffered are split now.
		a, tok, err := s.split(data[j+1:], atEOF)
		return j + 1 + a, tok, err
	}
	i := 0
	for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
		i++
	}
	rest := data[i:]
	if len(rest) == 0 {
		return i, nil, nil
	}
	if bytes.HasPrefix(rest, []byte(promptToken)) {
		return i + len(promptToken), []byte(promptToken), nil
	}
	if len(rest) == 1 && rest[0] == '>' && !atEOF {
		return i, nil, nil // maybe the start of a prompt
	}
	if j := bytes.IndexAny(rest, "\r\n"); j >= 0 {
		if j > maxLine {
			return i + j + 1, []byte(garbageToken), nil
		}
		return i + j + 1, rest[:j], nil
	}
	if len(rest) > maxLine {
		s.discarding = true
		return len(data), []byte(garbageToken), nil
	}
	if atEOF {
		return len(data), rest, nil
	}
	return i, nil, nil
}

// scanLines is a fresh lineSplitter's split function.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	var s lineSplitter
	return s.split(data, atEOF)
}

// printable reports whether line can be a modem's line: printable ASCII
// (and tab). Line noise, a baud-rate mismatch or a half-written binary
// burst fails this and is dropped before classification.
func printable(line string) bool {
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 && c != '\t') || c > 0x7E {
			return false
		}
	}
	return true
}

// finalKind classifies final result codes (TS 27.007 §5.7.1, §9.2;
// TS 27.005 §3.2.5).
type finalKind int

const (
	notFinal finalKind = iota
	finalOK
	finalError
	finalCME
	finalCMS
	finalOther // NO CARRIER, BUSY, NO ANSWER, NO DIALTONE
)

// parseFinal reports whether line is a final result code, and its cause.
func parseFinal(line string) (finalKind, int) {
	switch line {
	case "OK":
		return finalOK, 0
	case "ERROR":
		return finalError, 0
	case "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE":
		return finalOther, 0
	}
	if v, ok := strings.CutPrefix(line, "+CME ERROR:"); ok {
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		return finalCME, n
	}
	if v, ok := strings.CutPrefix(line, "+CMS ERROR:"); ok {
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		return finalCMS, n
	}
	return notFinal, 0
}

// urcPrefixes are the unsolicited result codes the driver knows. A line
// with one of these prefixes is unsolicited unless the command in progress
// declared it as its own information response (e.g. "+CREG:" for AT+CREG?).
var urcPrefixes = []string{
	"+CMT:", "+CMTI:", "+CDS:", "+CDSI:", "+CBM:", "+CBMI:",
	"+CREG:", "+CEREG:", "+CGREG:", "+C5GREG:", "+CIEV:", "+CUSD:", "+CRING:", "+CLIP:",
	"+CFUN:", "+CPIN:", "+STIN:", "+CUSATP:", "+QIND:", "^SMMEMFULL", "+SMS FULL", "^SYSSTART",
	"RING", "RDY",
}

// urcWithPDU are URCs followed by a second line carrying the PDU in hex
// (TS 27.005 §3.4.1, PDU mode).
var urcWithPDU = []string{"+CMT:", "+CDS:", "+CBM:"}

func hasAnyPrefix(line string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// isURC reports whether line is unsolicited given the information-response
// prefixes of the command in progress (nil when none is in progress).
// A line starting with '+' or '^' that the command did not declare is
// unsolicited too when the command declared prefixes, so unknown vendor
// URCs never leak into a response.
func isURC(line string, cmdPrefixes []string, declared bool) bool {
	if hasAnyPrefix(line, cmdPrefixes) {
		return false
	}
	if hasAnyPrefix(line, urcPrefixes) {
		return true
	}
	return declared && (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "^"))
}
