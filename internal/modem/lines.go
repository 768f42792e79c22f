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

// scanLines is a bufio.SplitFunc for the AT dialogue: lines end in CR, LF
// or both; empty lines are skipped; "> " at the start of a line is a token
// of its own even though no terminator follows it.
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
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
		return i + j + 1, rest[:j], nil
	}
	if atEOF || len(rest) >= maxLine {
		return len(data), rest, nil
	}
	return i, nil, nil
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
