# livedge: `make run` starts the demo, `make test` installs what the tests
# need and runs them all.

GO          ?= go
BIN         := bin/livedge
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q

.PHONY: all build run test test-deps lint fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./appliance/cmd/livedge

# The embedded default config: a demo stream at http://localhost:8080/demo/embed.html
run: build
	./$(BIN) -default

# Test tools come from Debian's packages; apt-get update runs once, only
# when something is missing.
test-deps:
	@missing=""; \
	command -v ffprobe >/dev/null 2>&1 || missing="$$missing ffmpeg"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && $(APT_INSTALL) $$missing; \
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

clean:
	rm -rf bin
