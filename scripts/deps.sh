#!/bin/sh
# Installs every build and test dependency of korch from Debian packages. Idempotent: packages
# already present are left alone and nothing is downloaded when all are installed.
set -eu

PACKAGES="
meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev
libjansson-dev libyaml-dev libsqlite3-dev
libnl-3-dev libnl-route-3-dev libnftables-dev libldns-dev
libseccomp-dev libcap-dev libarchive-dev
libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev nettle-dev uuid-dev
libgit2-dev libcmocka-dev git
busybox-static valgrind groff-base scdoc iproute2 nftables sqlite3 python3
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all $(echo $PACKAGES | wc -w) packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing; run as root (or with sudo) to install them" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
