#!/usr/bin/env bash
# Checks (and, as root on Debian/Ubuntu, installs) what building and testing
# drimefs needs: Go, FUSE 3 (fusermount3), and the tools the integration
# tests drive through the mount (rsync, getfattr, git, tar, curl).
set -euo pipefail

missing_pkgs=()
need() { # command package
	command -v "$1" >/dev/null 2>&1 || missing_pkgs+=("$2")
}

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		echo "deps: Go is in /usr/local/go/bin but not on PATH; add it: export PATH=\$PATH:/usr/local/go/bin" >&2
	else
		echo "deps: Go is not installed; drimefs needs Go 1.26 or newer (https://go.dev/doc/install)" >&2
	fi
	exit 1
fi

need fusermount3 fuse3
need rsync rsync
need getfattr attr
need git git
need tar tar
need curl curl
need make make

if [ ${#missing_pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "deps: installing ${missing_pkgs[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
	else
		echo "deps: missing packages: ${missing_pkgs[*]}" >&2
		echo "deps: install them, e.g.: sudo apt-get install ${missing_pkgs[*]}" >&2
		exit 1
	fi
fi

if [ ! -e /dev/fuse ]; then
	echo "deps: /dev/fuse is missing: load the fuse module (modprobe fuse) or run with --device /dev/fuse" >&2
	if [ "${DRIMEFS_REQUIRE_FUSE:-}" = 1 ]; then
		exit 1
	fi
fi
