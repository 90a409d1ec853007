#!/bin/sh
# run-fuzzer.sh TARGET SEED_DIR: runs a libFuzzer target for KORCH_FUZZ_SECONDS (default 60)
# from a copy of its committed seed corpus; fails on any crash, leak or input slower than 1 s.
set -eu
target=$1
seeds=$2
work=$(mktemp -d /tmp/korch-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/"
cd "$work"
exec "$target" -max_total_time="${KORCH_FUZZ_SECONDS:-60}" -timeout=1 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 "$work/corpus"
