# livedge: `make run` starts the demo, `make test` installs what the tests
# need and runs them all.

GO          ?= go
BIN         := bin/livedge
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q

.PHONY: all build run test test-deps lint fuzz bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./appliance/cmd/livedge

# The embedded default config: a demo stream at http://localhost:8080/demo/embed.html
run: build
	./$(BIN) -default

# Test tools come from Debian's packages; apt-get update runs once, only
# when something is missing. The browser test's playwright-core comes from
# npm, pinned by appliance/e2e/browser/package-lock.json, and is installed
# again when the lockfile is newer than the install.
test-deps:
	@missing=""; \
	command -v ffprobe >/dev/null 2>&1 || missing="$$missing ffmpeg"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && $(APT_INSTALL) $$missing; \
	fi
	@dir=appliance/e2e/browser; \
	if [ ! -f $$dir/node_modules/.package-lock.json ] || [ $$dir/package-lock.json -nt $$dir/node_modules/.package-lock.json ]; then \
		echo "installing: playwright-core (npm ci --prefix $$dir)"; \
		npm ci --prefix $$dir --no-audit --no-fund; \
	fi

test: test-deps build
	LIVEDGE_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 40m ./...

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# livedge next to nginx and the loopback ceiling on cores 0 and 1: CPU per
# GB, HTTP-TS viewers without stalls, RSS per viewer (bench/run.sh; installs
# nginx wrk iperf3 when missing; BENCH_QUICK=1 for a short smoke run).
bench: build
	bash bench/run.sh

clean:
	rm -rf bin
