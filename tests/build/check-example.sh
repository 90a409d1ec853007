#!/bin/sh
# check-example.sh BUILD_DIR SOURCE_DIR: installs korch into a temporary root, builds
# examples/c/pod-agent.c against the installed korch.pc with pkg-config alone, and runs it on
# the simulated runtime until it has seen its pods.
set -eu
build=$1
src=$2
tmp=$(mktemp -d /tmp/korch-example-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/root" -name korch.pc | head -n 1)
[ -n "$pc" ] || { echo "korch.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_LIBDIR="$(dirname "$pc")"
# shellcheck disable=SC2046
cc -std=gnu11 -Wall -Wextra -Werror "$src/examples/c/pod-agent.c" \
	$(pkg-config --cflags --libs korch) -o "$tmp/pod-agent"
libdir=$(dirname "$(dirname "$pc")")
LD_LIBRARY_PATH="$libdir" timeout 60 "$tmp/pod-agent" --simulate --replicas 3 \
	--until-pods 3 "$tmp/state.db" >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
cat "$tmp/out"
# The binary really used the installed library, and saw the three pods come.
LD_LIBRARY_PATH="$libdir" ldd "$tmp/pod-agent" | grep -q "$libdir/libkorch.so.0"
test "$(grep -c '^pod web-[a-z0-9]*-[a-z0-9]* added phase=Pending' "$tmp/out")" -eq 3
