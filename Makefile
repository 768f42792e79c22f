# lwm2m-clientd — see README.md for what each target is for.

GO       ?= go
BIN      := bin
PKG      := ./cmd/lwm2m-clientd
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# Tools `make test` needs beyond Go, as COMMAND:DEBIAN_PACKAGE.
TEST_TOOLS := gcc:gcc gnutls-serv:gnutls-bin
FUZZTIME ?= 30s

.PHONY: all build cross test tools fmt-check tidy-check vet fuzz clean

all: build

## build: the static binary for this machine, version stamped from git
build:
	$(GOBUILD) -o $(BIN)/lwm2m-clientd $(PKG)

## cross: static binaries for the gateway architectures
cross:
	GOOS=linux GOARCH=amd64         $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-amd64  $(PKG)
	GOOS=linux GOARCH=arm GOARM=7   $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-armv7  $(PKG)
	GOOS=linux GOARCH=arm64         $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-arm64  $(PKG)
	GOOS=linux GOARCH=mipsle        $(GOBUILD) -o $(BIN)/lwm2m-clientd-linux-mipsle $(PKG)

## tools: install what the tests need (gcc for -race)
tools:
	@scripts/ensure-tools $(TEST_TOOLS)

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

tidy-check:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

vet:
	$(GO) vet ./...

## test: formatting, tidy go.mod, vet, and every test with the race detector
test: tools fmt-check tidy-check vet
	CGO_ENABLED=1 $(GO) test -race -timeout 10m ./...

## fuzz: run each fuzz target for FUZZTIME (default 30s)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$fz"; \
	    $(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf $(BIN)
