# Base Station firmware. `make sim` runs the simulated Base Station with
# everything embedded; `make test` installs the test peers if missing and
# runs every test with the race detector.
GO      ?= go
PKGS    ?= ./...
BIN     := bin
LDFLAGS := -s -w
export GOFLAGS ?= -mod=mod

.PHONY: all sim test test-short test-arm soak race-repeat noalloc powercut fuzz-smoke build cross bench bench-smoke lint fuzz peers clean

all: build

sim:
	$(GO) run ./cmd/basesim $(SIMFLAGS)

peers:
	bash scripts/install-peers.sh

test: peers lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) race-repeat
	$(MAKE) noalloc
	$(MAKE) powercut
	$(MAKE) fuzz-smoke
	$(MAKE) bench-smoke
	$(MAKE) cross
	$(MAKE) test-arm

# The packages where goroutines meet (SIP transactions, the daemon's
# wiring, the simulator's world, the MQTT agent, the radio link) run once
# more under the race detector (twice in all), so a race that shows one
# run in five is less likely to land unseen. RACE_COUNT=2 doubles it when the 30-minute CI
# budget allows (it does not since the firmware and restart e2e tests).
RACE_PKGS ?= ./sipua ./internal/daemon ./cmd/basesim ./provisioning ./dect
RACE_COUNT ?= 1
race-repeat:
	$(GO) test -race -count=$(RACE_COUNT) -timeout 20m $(RACE_PKGS)

# The randomized whole-base soak under the race detector: 3 seeds x 700
# steps (docs/soak.md), alone. `make test` runs it too (about 2½ minutes,
# the three seeds in parallel); `-short` skips it.
soak:
	$(GO) test -race -count=1 -timeout 20m ./internal/soak

# Zero-allocation assertions need a build without the race detector (it
# allocates on its own); CI runs them here.
noalloc:
	$(GO) test -count=1 -run 'Alloc' ./sipua/... ./fxs/... ./dect/...

# The firmware update's power-cut trials, the acceptance's 200 (CI set),
# without the race detector: under it they take 7½ minutes, so the race
# run does 40 (update/powercut_test.go).
powercut: peers
	CI=true $(GO) test -count=1 -run 'TestRAUCPowerCut$$' -timeout 15m ./update/

# A short run of the fuzz targets that face the network directly.
FUZZ_SMOKE ?= 15s
fuzz-smoke:
	bash scripts/fuzz-smoke.sh $(FUZZ_SMOKE)

# Every benchmark once (the baresip comparisons in their short form), so
# the benchmark code runs in CI; `make bench` gives the figures.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x -short -timeout 10m $(PKGS)

# The hardware-free packages' tests and the armv7 daemon through a whole
# call, executed under qemu-user for arm (GOARM=7) and arm64.
test-arm: peers
	bash scripts/test-arm.sh

test-short:
	$(GO) test -race -short $(PKGS)

build:
	$(GO) build -o $(BIN)/ ./cmd/...

cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/linux-armv7/ ./cmd/...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/linux-arm64/ ./cmd/...

bench: peers
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

FUZZTIME ?= 30s
fuzz:
	bash scripts/fuzz-all.sh $(FUZZTIME)

clean:
	rm -rf $(BIN) dist
