#!/bin/sh
# check-man.sh PAGE: the page renders with groff's man macros without a single warning.
set -eu
out=$(groff -man -Tutf8 -ww -z "$1" 2>&1)
if [ -n "$out" ]; then
	printf '%s\n' "$out"
	exit 1
fi
