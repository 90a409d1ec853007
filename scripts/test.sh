#!/bin/sh
# Builds korch and runs every test suite: all suites of the normal build (unit, build, and, as
# root, root, netns and integration), then the unit suites again under address+undefined
# sanitizers and under valgrind, then each fuzz target for KORCH_FUZZ_SECONDS (default 60).
# Ends with one line "N passed, N failed"; exits non-zero when anything failed.
#
#   scripts/test.sh            everything (what .ci/run runs)
#   scripts/test.sh --quick    the normal build's suites only
#
# Environment: KORCH_SKIP_DEPS=1 skips scripts/deps.sh; KORCH_FUZZ_SECONDS sets the fuzz time.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ "${KORCH_SKIP_DEPS:-0}" != 1 ]; then
	scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
fi

logs=""
setup_failed=0

# setup DIR OPTIONS...: configures (or reconfigures) a build dir and builds it.
build() {
	dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
	else
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
	fi || { cat "$dir.setup.log"; setup_failed=$((setup_failed + 1)); return 1; }
	ninja -C "$dir" || { setup_failed=$((setup_failed + 1)); return 1; }
}

# run DIR LOGNAME MESON-TEST-ARGS...: runs tests and remembers the JSON log for the summary.
run() {
	dir=$1
	name=$2
	shift 2
	meson test -C "$dir" --no-rebuild --print-errorlogs --logbase "$name" "$@"
	rc=$?
	# meson appends the setup name to the log base when a setup is used
	log="$dir/meson-logs/$name.json"
	case " $* " in *" --setup valgrind "*) log="$dir/meson-logs/$name-valgrind.json" ;; esac
	if [ -f "$log" ]; then
		logs="$logs $log"
	elif [ $rc -ne 0 ]; then
		setup_failed=$((setup_failed + 1))
	fi
}

if build build -Dwerror=true; then
	run build all
fi

if [ $quick = 0 ]; then
	if build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 run build-asan asan --suite unit
	fi
	if [ -d build ]; then
		run build valgrind --suite unit --setup valgrind
	fi
	if [ -d tests/fuzz ] && command -v clang >/dev/null 2>&1; then
		if CC=clang build build-fuzz -Dwerror=true -Dfuzzing=true -Db_lundef=false \
			-Db_sanitize=address,undefined; then
			run build-fuzz fuzz --suite fuzz --timeout-multiplier 2
		fi
	fi
fi

/usr/bin/python3 - "$setup_failed" $logs <<'PY'
import json, sys
setup_failed = int(sys.argv[1])
passed = failed = skipped = 0
for path in sys.argv[2:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        print(f"missing test log {path}")
        continue
    for line in lines:
        t = json.loads(line)
        r = t["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED: {t['name']} ({r}) in {path}")
failed += setup_failed
print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
