#!/bin/sh
# Runs a netns test program between two snapshots of this machine's network: links, routes and
# the nftables ruleset. The test must never change them; if they differ, the run fails with a
# TAP "Bail out!" and the difference.
snapshot() {
	ip -o link show | sed -e 's/ qlen [0-9]*//'
	ip route show table all
	nft list ruleset
}
before=$(snapshot)
"$@"
rc=$?
after=$(snapshot)
if [ "$before" != "$after" ]; then
	echo "Bail out! the host's links, routes or nftables ruleset changed during the test"
	printf '%s\n' "$before" > "${TMPDIR:-/tmp}/korch-host-before.$$"
	printf '%s\n' "$after" | diff "${TMPDIR:-/tmp}/korch-host-before.$$" - | sed 's/^/# /'
	rm -f "${TMPDIR:-/tmp}/korch-host-before.$$"
	exit 1
fi
exit $rc
