#!/bin/sh
# check-unit.sh UNIT.in KORCHD: the systemd unit, with the built korchd in ExecStart, passes
# systemd-analyze verify (man pages are checked by their own test).
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|@sbindir@/korchd|$2|" "$1" > "$dir/korchd.service"
systemd-analyze verify --man=no "$dir/korchd.service"
