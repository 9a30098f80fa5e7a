# stakeout — see README.md. Targets: build, run, test, bench, fuzz, cross.
SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED := 0

# Debian packages the tests and benchmarks drive side by side with stakeout.
# openssh-server is for the sshd each --ssh test runs in a network namespace of
# its own (internal/testenv.SSHHosts); .ci/apt-install installs it without
# starting the system's sshd service. bench/tuibytes.sh logs in over SSH where
# sshd is installed, else measures through a pty.
TEST_PKGS  := sysstat e2fsprogs iproute2 util-linux mount coreutils tcpdump strace nftables gcc libc6-dev python3 chromium procps openssh-client openssh-server
BENCH_PKGS := $(TEST_PKGS) atop tmux lsof htop

.PHONY: build run test bench fuzz cross deps-test deps-bench clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/stakeout ./cmd/stakeout

# Live TUI on this host, recording on. Pass flags with ARGS='--probes iostat'.
run: build
	./bin/stakeout $(ARGS)

# Every test: vet, unit, fixture, fuzz seeds, golden UI, and the root-only
# end-to-end tests (loop devices) when run as root. internal/layering checks
# the package arrows and builds the binary for darwin and windows.
# -parallel 4: the end-to-end tests (cmd/stakeout/e2e, about 4 minutes on
# a 2-core machine, beside the other packages) run at most four at a time,
# in the order and company each one's share() asks for
# (cmd/stakeout/e2e/machine_test.go); the per-package timeout leaves them
# room to spare.
test: deps-test
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 $(GO) build -o /dev/null ./cmd/stakeout
	$(GO) test -count=1 -timeout 15m -parallel 4 ./...

# Side-by-side figures against atop and iostat; see bench/README.md.
bench: deps-bench build
	$(GO) test -run '^$$' -bench . -benchtime 5x ./sessions/
	./bench/run.sh
	./bench/packets.sh
	./bench/stream.sh
	./bench/flowstorm.sh
	./bench/signals.sh
	$(GO) test -run '^$$' -bench DiskFillSample -benchtime 20x ./probes/
	$(GO) test -run '^$$' -bench HostScan -benchtime 20x ./probes/
	$(GO) test -run '^$$' -bench HostSysFiles -benchmem ./probes/
	./bench/host.sh
	./bench/idle.sh 30
	./bench/quiet.py 10
	./bench/tuibytes.sh

# The readers of files from elsewhere: sessions, event JSON (redacted), pcap.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime 60s ./sessions/
	$(GO) test -run '^$$' -fuzz FuzzEvent -fuzztime 60s ./redact/
	$(GO) test -run '^$$' -fuzz FuzzPcapEvents -fuzztime 60s ./packet/

cross:
	GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/stakeout-linux-amd64 ./cmd/stakeout
	GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/stakeout-linux-arm64 ./cmd/stakeout
	# The readers of recordings (replay, report, events, handoff, extract,
	# note, export) for the laptops handoffs are read on; the live view and
	# snapshot say in one line that they need Linux.
	GOOS=darwin GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/stakeout-darwin-arm64 ./cmd/stakeout
	GOOS=darwin GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/stakeout-darwin-amd64 ./cmd/stakeout
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/stakeout-windows-amd64.exe ./cmd/stakeout

# Installs only what is missing, and only where apt-get and root are there.
deps-test:
	@./.ci/apt-install $(TEST_PKGS)

deps-bench:
	@./.ci/apt-install $(BENCH_PKGS)

clean:
	rm -rf bin .bench
