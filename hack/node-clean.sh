#!/usr/bin/env bash
# Removes everything a real node of the e2e suite started under DIR: the
# kubelet, controllers, kube-proxy and containerd (by their pid files), every container
# (through runc, whose state the suite keeps under DIR/runc), the shims, the
# mounts under DIR, the CNI bridge, kube-proxy's iptables rules and the
# kernel settings the kubelet changed. Idempotent: safe on a node that is half up, already gone, or left
# over by an interrupted run.
#
#   hack/node-clean.sh DIR            clean now
#   hack/node-clean.sh --on-eof DIR   wait until stdin closes (the suite's
#                                     process died or finished), then clean
set -uo pipefail

if [ "${1:-}" = --on-eof ]; then
	shift
	cat >/dev/null
fi
dir=${1:?usage: node-clean.sh [--on-eof] DIR}
[ -d "$dir" ] || exit 0
dir=$(cd "$dir" && pwd -P)

stop() { # pidfile...: SIGTERM, up to 5 s, then SIGKILL
	local pids=() f p
	for f in "$@"; do
		[ -f "$f" ] && p=$(cat "$f") && kill -0 "$p" 2>/dev/null && pids+=("$p")
	done
	[ ${#pids[@]} -eq 0 ] && return
	kill -TERM "${pids[@]}" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "${pids[@]}" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null
	sleep 0.2
}

# 1. Whatever would restart containers.
stop "$dir"/pids/kubelet.pid "$dir"/pids/kube-controller-manager.pid "$dir"/pids/kube-scheduler.pid \
	"$dir"/pids/kube-proxy.pid

# 2. Every container and sandbox, through runc's own state.
if [ -d "$dir/runc" ]; then
	for root in "$dir"/runc/*/; do
		for id in $(runc --root "$root" list -q 2>/dev/null); do
			runc --root "$root" delete --force "$id" >/dev/null 2>&1
			rm -f /var/lib/cni/results/*-"$id"-* # the CNI plugins' cached results
		done
	done
fi

# 3. containerd, then any shim or process still naming DIR (shims carry the
#    containerd socket path in their arguments).
stop "$dir"/pids/containerd.pid
for _ in 1 2 3; do
	pids=$(pgrep -f -- "$dir/" || true)
	[ -z "$pids" ] && break
	kill -KILL $pids 2>/dev/null
	sleep 0.2
done

# 4. Mounts under DIR (rootfs, volumes, network namespaces), deepest first.
for _ in 1 2 3; do
	mounts=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | uniq)
	[ -z "$mounts" ] && break
	for m in $mounts; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
done

# 5. The CNI bridge the node's network config names.
if [ -f "$dir/bridge" ]; then
	br=$(cat "$dir/bridge")
	ip link show "$br" >/dev/null 2>&1 && ip link delete "$br"
fi

# 6. The iptables rules of kube-proxy and the kubelet (KUBE-* chains), when
#    the node made them: startNode marks DIR/iptables.clean when none
#    existed before it. kube-proxy removes its own; the kubelet's (its
#    firewall and canary chains) go by hand, jumps to them first.
if [ -f "$dir/iptables.clean" ]; then
	[ -f "$dir/kube-proxy.bin" ] && "$(cat "$dir/kube-proxy.bin")" --cleanup >/dev/null 2>&1
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null 2>&1 || continue
		for table in filter nat mangle; do
			"$ipt" -w -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -v '^-A KUBE-' |
				while read -r rule; do
					eval "$ipt -w -t $table -D ${rule#-A }" 2>/dev/null
				done
			chains=$("$ipt" -w -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}')
			for chain in $chains; do "$ipt" -w -t "$table" -F "$chain" 2>/dev/null; done
			for chain in $chains; do "$ipt" -w -t "$table" -X "$chain" 2>/dev/null; done
		done
	done
fi

# 7. Kernel settings the kubelet sets at start, back to what they were.
if [ -f "$dir/sysctl.saved" ]; then
	while read -r key value; do
		echo "$value" >"/proc/sys/$key" 2>/dev/null
	done <"$dir/sysctl.saved"
fi

# 8. The kubelet's log links outside DIR.
for l in /var/log/containers/*.log; do
	[ -L "$l" ] && case "$(readlink "$l")" in "$dir"/*) rm -f "$l" ;; esac
done

# 9. Folders outside DIR that the node's programs created (containerd's shim sockets, the CNI
#    cache, the kubelet's device-plugin socket), listed at start when they did not exist yet.
if [ -f "$dir/created-paths" ]; then
	while read -r p; do
		case "$p" in /run/containerd | /var/lib/cni | /var/lib/kubelet | /var/log/containers) rm -rf "$p" ;; esac
	done <"$dir/created-paths"
fi

rm -rf "$dir"
