# drimefs — a FUSE filesystem for Drime Cloud.
#   make run    mount ./mnt (a local emulator, or your drive when DRIME_TOKEN is set)
#   make test   everything CI runs (installs fuse3 & co. when run as root)
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
PREFIX ?= /usr/local

.PHONY: build run test bench soak lint deps install clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/drimefs ./cmd/drimefs

deps:
	@./scripts/deps.sh

run: deps build
	@mkdir -p mnt
	@if [ -n "$$DRIME_TOKEN" ]; then \
		echo "mounting your Drime drive at ./mnt (Ctrl-C to unmount)"; \
		bin/drimefs mount ./mnt; \
	else \
		echo "mounting a local emulator (data in ./.drimefs-demo) at ./mnt (Ctrl-C to unmount)"; \
		echo "set DRIME_TOKEN to mount your real drive instead"; \
		bin/drimefs mount --emulator ./.drimefs-demo --cache-dir ./.drimefs-demo/cache ./mnt; \
	fi

test: deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -count=1 -timeout 9m ./...

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

bench: deps build
	DRIMEFS_BENCH=1 $(GO) test -count=1 -timeout 30m -run TestBench -v ./integration/bench/
	$(GO) test -count=1 -run '^$$' -bench . -benchmem ./cache/ ./uploader/

soak: deps build
	DRIMEFS_SOAK=1 $(GO) test -count=1 -timeout 60m ./integration/ -run 'Soak|Fsx|Fault|Crash'

# install: the binary, the mount(8) helper link (so `mount -t fuse.drimefs`
# and fstab lines work) and the systemd units. DESTDIR is honoured; the
# helper and units point at $(PREFIX)/bin/drimefs.
install: SBINDIR ?= /sbin
install: UNITDIR ?= $(PREFIX)/lib/systemd/system
install: USERUNITDIR ?= $(PREFIX)/lib/systemd/user
install: build
	install -D -m 0755 bin/drimefs $(DESTDIR)$(PREFIX)/bin/drimefs
	install -d $(DESTDIR)$(SBINDIR)
	ln -sfn $(PREFIX)/bin/drimefs $(DESTDIR)$(SBINDIR)/mount.fuse.drimefs
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR)
	sed 's#/usr/local/bin/drimefs#$(PREFIX)/bin/drimefs#' contrib/systemd/drimefs@.service \
		> $(DESTDIR)$(UNITDIR)/drimefs@.service
	sed 's#/usr/local/bin/drimefs#$(PREFIX)/bin/drimefs#' contrib/systemd/user/drimefs.service \
		> $(DESTDIR)$(USERUNITDIR)/drimefs.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/drimefs@.service $(DESTDIR)$(USERUNITDIR)/drimefs.service
	@echo "installed $(PREFIX)/bin/drimefs, $(SBINDIR)/mount.fuse.drimefs and the systemd units;"
	@echo "run systemctl daemon-reload to pick up the units"

clean:
	rm -rf bin
