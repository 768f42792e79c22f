# lwm2m-clientd — see README.md for what each target is for.

GO       ?= go
BIN      := bin
PKG      := ./cmd/lwm2m-clientd
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# Tools `make test` needs beyond Go, as COMMAND:DEBIAN_PACKAGE.
TEST_TOOLS := gcc:gcc gnutls-serv:gnutls-bin coap-rd-notls:libcoap3-bin qemu-arm:qemu-user
FUZZTIME ?= 30s
# Minimization budget per new input (go test -fuzzminimizetime). Go's
# default, 60s, spends most of a 30 s run minimizing newly interesting
# inputs of the slower targets at 0 execs/s (FuzzTreeOps: 2,398 execs in
# 30 s with the default, 85,077 with 100x).
FUZZMINIMIZE ?= 100x

# Debian package version: the tag without its v, else 0.0~gitDATE.HASH.
DEB_VERSION := $(shell v=$$(git describe --tags --exact-match 2>/dev/null); if [ -n "$$v" ]; then echo $${v#v}; else echo 0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$$(git rev-parse --short HEAD 2>/dev/null || echo 0); fi)

.PHONY: all build cross deb demo test test-native test-arm tools fmt-check tidy-check vet fuzz bench clean

all: build

## build: the static binary for this machine, version stamped from git
build:
	$(GOBUILD) -o $(BIN)/lwm2m-clientd $(PKG)

## demo: build, then run the main job against the emulated modem, SIM, network and servers
demo: build
	$(BIN)/lwm2m-clientd demo --sim configs/emulator-sim.yaml

## cross: static binaries for the gateway architectures
cross:
	GOOS=linux GOARCH=amd64         $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-amd64  $(PKG)
	GOOS=linux GOARCH=arm GOARM=7   $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-armv7  $(PKG)
	GOOS=linux GOARCH=arm64         $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-arm64  $(PKG)
	GOOS=linux GOARCH=mipsle        $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-mipsle $(PKG)

## deb: .deb packages for amd64, armhf and arm64 in dist/
deb:
	GOOS=linux GOARCH=amd64       $(GOBUILD) -o $(BIN)/deb-amd64/lwm2m-clientd $(PKG)
	GOOS=linux GOARCH=arm GOARM=7 $(GOBUILD) -o $(BIN)/deb-armhf/lwm2m-clientd $(PKG)
	GOOS=linux GOARCH=arm64       $(GOBUILD) -o $(BIN)/deb-arm64/lwm2m-clientd $(PKG)
	@for a in amd64 armhf arm64; do scripts/mkdeb $$a $(BIN)/deb-$$a/lwm2m-clientd $(DEB_VERSION) dist; done

## tools: install what the tests need (gcc for -race, gnutls-serv, qemu-arm)
tools:
	@scripts/ensure-tools $(TEST_TOOLS)

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

tidy-check:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

vet:
	$(GO) vet ./...

## test: formatting, tidy go.mod, vet, every test with the race detector,
## then every test again on 32-bit ARM under qemu-user
test: test-native test-arm

test-native: tools fmt-check tidy-check vet
	CGO_ENABLED=1 $(GO) test -race -timeout 10m ./...

## test-arm: every package's tests cross-compiled for linux/arm GOARM=7 and
## run under qemu-arm (ARMTESTFLAGS, e.g. -short or -v, go to each binary)
test-arm:
	@scripts/ensure-tools qemu-arm:qemu-user
	GO=$(GO) scripts/test-arm $(ARMTESTFLAGS)

## fuzz: run each fuzz target for FUZZTIME (default 30s), one after another
fuzz:
	GO=$(GO) scripts/fuzz $(FUZZTIME) $(FUZZMINIMIZE)

## bench: every Go benchmark (codecs, one SMS turn through the whole stack
## in NoSec and DTLS mode), then the SMS budget report: the table on stdout
## and bench/sms-budget.json, with the idle resident set of `run` and the
## stripped binary size per architecture (built here by build and cross)
bench: build cross
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count 1 ./...
	LWM2M_BENCH_BUDGET=$(CURDIR)/bench/sms-budget.json LWM2M_BENCH_BIN=$(CURDIR)/$(BIN)/lwm2m-clientd \
	LWM2M_BENCH_CROSS=$(CURDIR)/$(BIN) $(GO) test -count 1 -v -run '^TestSMSBudget$$' ./cmd/lwm2m-clientd

clean:
	rm -rf $(BIN) dist
