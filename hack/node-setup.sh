#!/usr/bin/env bash
# Installs what a real node of the truth suite needs from Debian's packages:
# containerd, runc, the CNI plugins, iptables and conntrack for kube-proxy, and a JRE whose JVM the suite runs. Idempotent: it installs only what is
# missing, and never starts the packaged containerd service (the suite runs
# its own containerd with its own root, state and socket).
set -euo pipefail

need=()
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] || need+=(containernetworking-plugins)
# kube-proxy's iptables mode: iptables-restore, and conntrack to clear stale entries.
command -v iptables-restore >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
# A real JVM for the heap rows of the truth suite, packed into an image there.
compgen -G '/usr/lib/jvm/java-17-openjdk-*/bin/java' >/dev/null || need+=(openjdk-17-jre-headless)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "node-setup: need root to install ${need[*]} (or set NOBACKOFF_NODE=skip)" >&2
	exit 1
fi
echo "node-setup: installing ${need[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
# Keep the packaged service from starting: the suite's containerd is its own.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
