#!/bin/sh
# The README's first command: installs the dependencies, builds korch, and shows korchctl on the
# example application with a state file of its own. (Starting korchd and running the example's
# containers comes with the daemon; today korchctl works on the state file directly.)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

scripts/deps.sh
if [ -d build ]; then
	meson setup --reconfigure -Dwerror=true build >/dev/null
else
	meson setup -Dwerror=true build >/dev/null
fi
ninja -C build

state=${KORCH_STATE:-/tmp/korch-quickstart/state.db}
mkdir -p "$(dirname "$state")"
korchctl="$here/build/tools/korchctl/korchctl"
run() {
	echo "\$ korchctl $*"
	"$korchctl" --state "$state" "$@"
	echo
}

run apply -f examples/web.yaml
run get deployments,services,configmaps
run get deployment web -o wide
run get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}{"\n"}'
run describe service web

cat <<MSG
The state lives in $state. Try:
  export KORCH_STATE=$state
  $korchctl get all
  $korchctl patch deployment web -p '{"spec":{"replicas":5}}'
  $korchctl get deploy web -o yaml
  $korchctl api-resources
Run every test with: scripts/test.sh
MSG
