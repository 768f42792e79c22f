// Package lwm2mclientd_test holds the rules of the house as tests: every
// package is documented, and imports flow one way
// (../shared/design/architecture.md, style.md rules 2 and 3).
package lwm2mclientd_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/lwm2m-clientd/lwm2m-clientd"

// allowed lists, for each project package (relative to the module), the
// project packages it may import directly. A package missing from this
// table fails the test: add it here together with architecture.md.
var allowed = map[string][]string{
	"cmd/lwm2m-clientd":      {"internal/daemon", "internal/config", "internal/control", "internal/atpdu", "internal/securedpacket", "internal/uicc", "internal/modem", "internal/emu/..."},
	"internal/config":        {},
	"internal/daemon":        {"internal/config", "internal/store", "internal/modem", "internal/uicc", "internal/smsbind", "internal/smsdtls", "internal/lwm2m", "internal/objects", "internal/atpdu", "internal/control", "internal/sdnotify"},
	"internal/control":       {},
	"internal/sdnotify":      {},
	"internal/lwm2m":         {"internal/objects"},
	"internal/objects":       {"internal/store"},
	"internal/store":         {},
	"internal/smsbind":       {"internal/atpdu", "internal/smsdtls", "internal/uicc"},
	"internal/smsdtls":       {},
	"internal/uicc":          {},
	"internal/securedpacket": {},
	"internal/atpdu":         {},
	"internal/modem":         {"internal/atpdu"},
	"internal/emu/...":       {"internal/atpdu", "internal/securedpacket", "internal/uicc", "internal/objects", "internal/modem", "internal/smsdtls", "internal/emu/..."},
}

// codecs are pure functions over []byte: none of these may reach I/O.
// os and syscall are checked on direct imports only (fmt itself imports
// os); the rest through every dependency.
var (
	codecs        = []string{"internal/atpdu", "internal/securedpacket"}
	codecNoImport = []string{"os", "syscall"}
	codecNoDep    = []string{"net", "log/slog", "go.bug.st/serial", "os/exec"}
)

type pkg struct {
	path    string // relative to the module
	name    string
	doc     string
	imports []string // project imports, relative
	stdlib  []string // every direct import, absolute
	deps    []string // all transitive dependencies, absolute
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f",
		"{{.ImportPath}}|{{.Name}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}|{{.Doc}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", 5)
		if len(f) != 5 {
			t.Fatalf("go list line %q", sc.Text())
		}
		p := pkg{path: rel(f[0]), name: f[1], doc: f[4], deps: strings.Fields(f[3])}
		p.stdlib = strings.Fields(f[2])
		for _, imp := range p.stdlib {
			if strings.HasPrefix(imp, module+"/") {
				p.imports = append(p.imports, rel(imp))
			}
		}
		if p.path != "" { // the module root holds only this test
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

func rel(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
}

// rule finds the table entry for a package ("internal/emu/sim" → "internal/emu/...").
func rule(path string) (string, bool) {
	if _, ok := allowed[path]; ok {
		return path, true
	}
	if strings.HasPrefix(path, "internal/emu/") {
		return "internal/emu/...", true
	}
	return "", false
}

func TestPackagesDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if !strings.HasPrefix(p.doc, "Package "+p.name+" ") && !strings.HasPrefix(p.doc, "Command ") {
			t.Errorf("%s: no package doc comment (\"Package %s ...\" in doc.go)", p.path, p.name)
		}
	}
}

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		key, ok := rule(p.path)
		if !ok {
			t.Errorf("%s: not in the architecture table; add it to arch_test.go and architecture.md", p.path)
			continue
		}
		for _, imp := range p.imports {
			impKey, _ := rule(imp)
			if !slices.Contains(allowed[key], impKey) && !slices.Contains(allowed[key], imp) {
				t.Errorf("%s imports %s, which architecture.md does not allow", p.path, imp)
			}
		}
	}
}

func TestCodecsDoNoIO(t *testing.T) {
	for _, p := range listPackages(t) {
		if !slices.Contains(codecs, p.path) {
			continue
		}
		for _, d := range p.stdlib {
			if slices.Contains(codecNoImport, d) {
				t.Errorf("codec %s imports %s", p.path, d)
			}
		}
		for _, d := range p.deps {
			if slices.Contains(codecNoDep, d) {
				t.Errorf("codec %s depends on %s", p.path, d)
			}
		}
	}
}

// TestDaemonPathHasNoEmulator: only the CLI (for demo and emulator) may
// reach internal/emu; the daemon's own packages never do.
func TestDaemonPathHasNoEmulator(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.path == "cmd/lwm2m-clientd" || strings.HasPrefix(p.path, "internal/emu") {
			continue
		}
		for _, d := range p.deps {
			if strings.HasPrefix(d, module+"/internal/emu") {
				t.Errorf("%s depends on %s", p.path, rel(d))
			}
		}
	}
}
