#!/bin/sh
# The README's first command. Installs the dependencies, builds and installs korch, then starts
# korchd with its embedded SQLite state inside a network namespace of its own (so the machine's
# own network is never touched), loads the busybox image, applies examples/web.yaml (a
# 3-replica web Deployment and its Service), waits for it and shows how to reach it.
#
#   scripts/quickstart.sh          install, build, start, apply
#   scripts/quickstart.sh stop     stop korchd, remove what it made, delete the namespace
#
# KORCH_PREFIX (default /usr/local) is where it installs; KORCH_QUICK_DIR (default
# /var/tmp/korch-quick) holds korchd's data, run directory and log.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

prefix=${KORCH_PREFIX:-/usr/local}
dir=${KORCH_QUICK_DIR:-/var/tmp/korch-quick}
netns=korch-quick
instance=quick
# The node's address: one end of a veth pair inside the namespace (an address of no real network).
node_ip=192.168.231.1
korchd="$prefix/sbin/korchd"
korchctl="$prefix/bin/korchctl"
kubeconfig="$dir/data/admin.kubeconfig"

# nsenter, not ip netns exec: that one also remounts /sys, hiding the cgroup hierarchies.
in_ns() {
	nsenter --net="/run/netns/$netns" "$@"
}

stop() {
	if [ -f "$dir/korchd.pid" ]; then
		pid=$(cat "$dir/korchd.pid")
		if kill "$pid" 2>/dev/null; then
			# korchd stops within seconds on SIGTERM; its containers stay for korchd reset.
			i=0
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
				sleep 0.1
				i=$((i + 1))
			done
		fi
		rm -f "$dir/korchd.pid"
	fi
	if ip netns list 2>/dev/null | grep -qw "$netns"; then
		in_ns "$korchd" reset --data-dir "$dir/data" --run-dir "$dir/run" \
			--instance "$instance" || true
		ip netns delete "$netns"
	fi
	echo "korchd stopped; its state stays in $dir/data until the next start (rm -rf $dir removes it)"
}

case "${1:-start}" in
stop)
	stop
	exit 0
	;;
start) ;;
*)
	echo "usage: scripts/quickstart.sh [start|stop]" >&2
	exit 2
	;;
esac

if [ -f "$dir/korchd.pid" ] && kill -0 "$(cat "$dir/korchd.pid")" 2>/dev/null; then
	echo "korchd already runs (pid $(cat "$dir/korchd.pid")); scripts/quickstart.sh stop first" >&2
	exit 1
fi

scripts/deps.sh
if [ -d build ]; then
	meson setup --reconfigure -Dwerror=true --prefix="$prefix" build >/dev/null
else
	meson setup -Dwerror=true --prefix="$prefix" build >/dev/null
fi
ninja -C build
meson install -C build --quiet
ldconfig

# The busybox image the example runs (korch.test/busybox:1), made from Debian's busybox-static.
ninja -C build tests/lib/korch-test-busybox.stamp >/dev/null
# Each start begins from a fresh state (the quick start's own directory only).
rm -rf "$dir/data"
mkdir -p "$dir"
"$korchctl" image load --data-dir "$dir/data" build/tests/lib/korch-test-busybox

# korchd's own network namespace: loopback, a veth pair for the node address, a default route.
ip netns delete "$netns" 2>/dev/null || true
ip netns add "$netns"
in_ns ip link set lo up
in_ns ip link add kq0 type veth peer name kq1
in_ns ip addr add "$node_ip/24" dev kq0
in_ns ip link set kq0 up
in_ns ip link set kq1 up
# A default route (inside the namespace only): the proxy's DNAT of a Service address needs one.
in_ns ip route add default dev kq0

# korchd reports DiskPressure as the kubelet does when less than 10% of the data dir's disk is
# free: it then removes unused images (the example's among them) and takes no new pods. On such
# a disk the quick start lowers that threshold to 1% and says so.
eviction=
free_pct=$(df -P "$dir" | awk 'NR == 2 { gsub("%", "", $5); print 100 - $5 }')
if [ "${free_pct:-100}" -lt 10 ]; then
	echo "note: only ${free_pct}% of the disk holding $dir is free; starting korchd with" \
		"--eviction-hard nodefs.available<1% (the default, 10%, would report DiskPressure)"
	eviction="--eviction-hard=nodefs.available<1%"
fi
echo "starting korchd (log: $dir/korchd.log)"
# nsenter execs korchd in place, so $! is korchd's pid; it ignores the terminal's hangup.
trap '' HUP
nsenter --net="/run/netns/$netns" "$korchd" --data-dir "$dir/data" --run-dir "$dir/run" \
	--instance "$instance" --listen 127.0.0.1:6443 --node-ip "$node_ip" $eviction \
	>>"$dir/korchd.log" 2>&1 &
echo $! >"$dir/korchd.pid"
i=0
until [ -f "$kubeconfig" ] && in_ns "$korchctl" --kubeconfig "$kubeconfig" get nodes >/dev/null 2>&1; do
	if ! kill -0 "$(cat "$dir/korchd.pid")" 2>/dev/null || [ $i -ge 300 ]; then
		echo "korchd did not start:" >&2
		tail -n 20 "$dir/korchd.log" >&2
		exit 1
	fi
	sleep 0.1
	i=$((i + 1))
done

run() {
	echo "\$ korchctl $*"
	in_ns "$korchctl" --kubeconfig "$kubeconfig" "$@"
	echo
}
run apply -f examples/web.yaml
run rollout status deployment/web --timeout=120s
run get pods -o wide
run get service web

ip=$(in_ns "$korchctl" --kubeconfig "$kubeconfig" get service web \
	-o jsonpath='{.spec.clusterIP}')
echo "\$ python3 -c 'print(urlopen(\"http://$ip/\").read())'   (in korchd's network namespace)"
in_ns /usr/bin/python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")' "http://$ip/" ||
	echo "(no answer from the Service's address: see $dir/korchd.log)"
echo

cat <<MSG
korchd runs in the network namespace $netns; its state is $dir/data/state.db.
Try (each command inside that namespace):
  nsenter --net=/run/netns/$netns korchctl --kubeconfig $kubeconfig get all
  nsenter --net=/run/netns/$netns korchctl --kubeconfig $kubeconfig scale deployment web --replicas 5
  nsenter --net=/run/netns/$netns kubectl --kubeconfig $kubeconfig get pods -o wide
  nsenter --net=/run/netns/$netns kubectl --kubeconfig $kubeconfig logs deployment/web
  nsenter --net=/run/netns/$netns kubectl --kubeconfig $kubeconfig exec -it deployment/web -- sh
Stop it and remove what it made: scripts/quickstart.sh stop
Run every test: scripts/test.sh
MSG
