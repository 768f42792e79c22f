package objects

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex: %v", err)
	}
	return b
}

var testPSK = NewSecret([]byte("0123456789abcdef"))
var testSMSKey = NewSecret(bytes.Repeat([]byte{0xA5}, 32))

func testFactory() Factory {
	return Factory{
		Bootstrap: &FactoryBootstrap{URI: "coaps://bs.example:5684", Security: FactorySecurity{Mode: SecurityModePSK, PSKIdentity: "bs-id", PSK: testPSK}},
		Servers: []FactoryServer{{
			ShortServerID: 101, URI: "coaps://dm.example:5684",
			Security: FactorySecurity{Mode: SecurityModePSK, PSKIdentity: "dm-id", PSK: testPSK},
			Lifetime: time.Hour, Binding: "UQS", NotificationStoring: true,
			SMS: &FactorySMS{Number: "+33612345678", SecurityMode: SMSModeSecurePacket,
				KeyParameters: []byte{0x12, 0x15, 0x16, 0x21, 0xB2, 0x02, 0x03}, SecretKey: testSMSKey},
		}},
	}
}

type testEnv struct {
	tree    *Tree
	st      *store.Mem
	changes []Change
	rut     []uint16
}

func newTestTree(tb testing.TB, f Factory) *testEnv {
	tb.Helper()
	e := &testEnv{st: &store.Mem{}}
	now := time.Unix(1367491215, 0)
	tr, err := New(Config{
		Store: e.st, Now: func() time.Time { return now }, Factory: f,
		Options: Options{Device: DeviceInfo{Manufacturer: "Open Mobile Alliance", Model: "Lightweight M2M Client", Serial: "345000123", Firmware: "1.0"}},
		Hooks: Hooks{
			OnChange:                  func(c []Change) { e.changes = append(e.changes, c...) },
			RegistrationUpdateTrigger: func(ssid uint16) { e.rut = append(e.rut, ssid) },
		},
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	e.tree = tr
	return e
}

func mustPath(tb testing.TB, s string) Path {
	tb.Helper()
	p, err := ParsePath(s)
	if err != nil {
		tb.Fatalf("ParsePath(%q): %v", s, err)
	}
	return p
}

func TestSecurityInvisibleToServers(t *testing.T) {
	e := newTestTree(t, testFactory())
	for _, ps := range []string{"/0", "/0/0", "/0/0/8", "/0/1", "/0/1/8", "/0/0/5", "/0/1/5", "/0/1/0"} {
		for _, f := range []ContentFormat{NoFormat, FormatTLV, FormatJSON, FormatText, FormatOpaque} {
			if b, _, code := e.tree.Read(Server(101), mustPath(t, ps), f); code.Success() || len(b) > 0 {
				t.Errorf("DM Read %s (%s) = %s, want refusal", ps, f, code)
			}
		}
		if _, code := e.tree.Discover(Server(101), mustPath(t, ps)); code.Success() {
			t.Errorf("DM Discover %s = %s", ps, code)
		}
	}
	if code := e.tree.Write(Server(101), mustPath(t, "/0/1/9"), WriteReplace, FormatText, []byte("123")); code != NotFound {
		t.Errorf("DM Write /0/1/9 = %s, want 4.04", code)
	}
	if code := e.tree.Delete(Server(101), mustPath(t, "/0/1")); code != NotFound {
		t.Errorf("DM Delete /0/1 = %s", code)
	}
	if _, code := e.tree.Create(Server(101), mustPath(t, "/0"), FormatTLV, nil); code != NotFound {
		t.Errorf("DM Create /0 = %s", code)
	}
	if bytes.Contains(e.tree.RegistrationLinks(), []byte("</0")) {
		t.Errorf("registration payload lists /0: %s", e.tree.RegistrationLinks())
	}
}

func TestBootstrapWriteSecretNeverReadable(t *testing.T) {
	e := newTestTree(t, testFactory())
	key := bytes.Repeat([]byte{0x5A}, 48)
	e.tree.BootstrapBegin()
	for _, p := range []string{"/0/0/8", "/0/1/8"} {
		if code := e.tree.Write(Bootstrap, mustPath(t, p), WriteReplace, FormatOpaque, key); code != Changed {
			t.Fatalf("bootstrap Write %s = %s", p, code)
		}
	}
	// Also through TLV and JSON, as bootstrap servers send it.
	if code := e.tree.Write(Bootstrap, mustPath(t, "/0/0"), WriteUpdate, FormatTLV, tlvBytes(t, TLVs{{Kind: TLVResource, ID: 8, Value: key}})); code != Changed {
		t.Fatalf("bootstrap TLV write = %s", code)
	}
	if code := e.tree.Write(Bootstrap, mustPath(t, "/0/0/8"), WriteReplace, FormatJSON, []byte(`{"bn":"/0/0/","e":[{"n":"8","sv":"`+base64.StdEncoding.EncodeToString(key)+`"}]}`)); code != Changed {
		t.Fatalf("bootstrap JSON write = %s", code)
	}
	if code := e.tree.BootstrapFinish(); code != Changed {
		t.Fatalf("BootstrapFinish = %s", code)
	}
	accts := e.tree.Servers()
	if len(accts) != 1 || !bytes.Equal(accts[0].SMSSecretKey.Bytes(), key) {
		t.Fatalf("key not stored: %+v", accts)
	}
	for _, c := range []Caller{Server(101), Bootstrap, Internal} {
		for _, ps := range []string{"/", "/0", "/0/0", "/0/0/8", "/0/1", "/0/1/8"} {
			for _, f := range []ContentFormat{NoFormat, FormatTLV, FormatJSON, FormatText, FormatOpaque, FormatLegacyTLV} {
				b, _, _ := e.tree.Read(c, mustPath(t, ps), f)
				if bytes.Contains(b, key[:8]) || bytes.Contains(b, []byte("WlpaWlpa")) {
					t.Errorf("%s Read %s (%s) leaked the key", c, ps, f)
				}
			}
			b, _ := e.tree.Discover(c, mustPath(t, ps))
			if bytes.Contains(b, key[:8]) {
				t.Errorf("%s Discover %s leaked the key", c, ps)
			}
		}
		if _, _, code := e.tree.Read(c, mustPath(t, "/0/1/8"), FormatOpaque); code.Success() {
			t.Errorf("%s Read /0/1/8 = %s", c, code)
		}
	}
	// Internal read of the instance works but omits the secrets.
	b, _, code := e.tree.Read(Internal, mustPath(t, "/0/1"), FormatJSON)
	if code != Content || strings.Contains(string(b), `"n":"8"`) || strings.Contains(string(b), `"n":"5"`) {
		t.Errorf("internal read /0/1 = %s %s", code, b)
	}
	if s := ValueOf(t, e.tree, "/0/1/8"); s != "" {
		t.Errorf("Value of secret returned %q", s)
	}
}

// ValueOf is a helper returning the string form of Tree.Value.
func ValueOf(tb testing.TB, tr *Tree, p string) string {
	tb.Helper()
	r, ok := tr.Value(mustPath(tb, p))
	if !ok {
		return ""
	}
	return r.Value.String()
}

func TestReadDeviceTLVSpecVector(t *testing.T) {
	e := newTestTree(t, testFactory())
	b, cf, code := e.tree.Read(Server(101), mustPath(t, "/3/0/0"), NoFormat)
	if code != Content || cf != FormatText || string(b) != "Open Mobile Alliance" {
		t.Fatalf("read /3/0/0 = %q %s %s", b, cf, code)
	}
	b, _, code = e.tree.Read(Server(101), mustPath(t, "/3/0/13"), FormatTLV)
	if code != Content || !bytes.Equal(b, unhex(t, "C4 0D 51 82 42 8F")) {
		t.Fatalf("read /3/0/13 tlv = % X %s", b, code)
	}
}

func TestExecuteRegistrationUpdateTrigger(t *testing.T) {
	e := newTestTree(t, testFactory())
	if code := e.tree.Execute(Server(101), mustPath(t, "/1/0/8"), nil); code != Changed {
		t.Fatalf("execute = %s", code)
	}
	if len(e.rut) != 1 || e.rut[0] != 101 {
		t.Fatalf("hook calls %v", e.rut)
	}
	if code := e.tree.Execute(Server(101), mustPath(t, "/1/0/1"), nil); code != MethodNotAllowed {
		t.Errorf("execute lifetime = %s", code)
	}
}

func TestWriteLifetimePersists(t *testing.T) {
	e := newTestTree(t, testFactory())
	if code := e.tree.Write(Server(101), mustPath(t, "/1/0/1"), WriteReplace, FormatText, []byte("600")); code != Changed {
		t.Fatalf("write = %s", code)
	}
	if len(e.changes) != 1 || e.changes[0].Path.String() != "/1/0/1" {
		t.Errorf("changes %v", e.changes)
	}
	tr2, err := New(Config{Store: e.st, Factory: testFactory()})
	if err != nil {
		t.Fatal(err)
	}
	if s := tr2.Servers(); s[0].Lifetime != 600*time.Second {
		t.Errorf("reloaded lifetime %v", s[0].Lifetime)
	}
	if !tr2.Servers()[0].SMSSecretKey.Equal(testSMSKey) {
		t.Errorf("secret not reloaded")
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	tr, err := New(Config{Factory: testFactory(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte("K3y!"), 4)
	tr.BootstrapBegin()
	tr.Write(Bootstrap, mustPath(t, "/0/1/8"), WriteReplace, FormatOpaque, key)
	tr.Write(Bootstrap, mustPath(t, "/0/1/8"), WriteReplace, FormatOpaque, append(key, key[:3]...)) // refused: length
	tr.Write(Bootstrap, mustPath(t, "/0/1/5"), WriteReplace, FormatText, []byte(base64.StdEncoding.EncodeToString(key)+"!"))
	tr.Write(Bootstrap, mustPath(t, "/0/1"), WriteUpdate, FormatJSON, []byte(`{"bn":"/0/1/","e":[{"n":"8","sv":"`+base64.StdEncoding.EncodeToString(key)+`x"}]}`))
	tr.Delete(Bootstrap, mustPath(t, "/0/7"))
	tr.BootstrapFinish()
	for _, a := range tr.Servers() {
		slog.New(slog.NewTextHandler(&logs, nil)).Info("account", "acct", a)
	}
	out := logs.String()
	for _, leak := range []string{"K3y!", hex.EncodeToString(key[:4]), base64.StdEncoding.EncodeToString(key)[:8], "0123456789abcdef"} {
		if strings.Contains(out, leak) {
			t.Fatalf("secret %q in logs:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("account log shows no redaction:\n%s", out)
	}
}
