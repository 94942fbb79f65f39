#!/usr/bin/env bash
# Runs one MPI job across two "hosts" on this machine: two network namespaces joined by a veth
# pair, ranks talking TCP over it, so tests exercise a real multi-node run (docs/platform.md, "Two
# hosts on one machine"). Always tears the namespaces down, whatever happens to the job.
#
#   scripts/two-hosts.sh [--ranks-per-host N] [--keepalive] [--rate RATE] [--info FILE] -- COMMAND [ARG...]
#   scripts/two-hosts.sh --self-test
#
# COMMAND runs as `mpirun -n 2N COMMAND...` in the current folder (both hosts share the
# filesystem). The exit code is mpirun's. --keepalive makes a dead link end the job in about
# 11 s instead of OpenMPI's default of about 8 minutes. --rate RATE (tc's units: 1gbit,
# 100mbit, ...) limits both directions of the link with a token bucket (`tc ... tbf`; this
# kernel has tbf and htb, not netem), as a slower network between real hosts would; `none`
# (the default) leaves the veth as fast as the CPU can move bytes.
#
# For fault injection, the names are printed on stderr when the hosts are up, and --info FILE
# writes them as shell assignments (H1, H2, LINK1, LINK2, SUBNET) before mpirun starts:
#   ip netns exec "$H2" kill -9 PID      ip -n "$H2" link set "$LINK2" down
#
# Exit codes: mpirun's; 2 for a usage error; 77 when this machine cannot create the hosts (not
# root, no `ip`, or namespaces not permitted), so a test can skip with the printed reason.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
    echo "usage: $0 [--ranks-per-host N] [--keepalive] [--rate RATE|none] [--info FILE] -- COMMAND [ARG...]" >&2
    echo "       $0 --self-test" >&2
    exit 2
}

skip() {
    echo "two-hosts: cannot create hosts here: $*" >&2
    exit 77
}

ranks_per_host=1
keepalive=()
info=""
rate=none
while [ $# -gt 0 ]; do
    case "$1" in
        --ranks-per-host) [ $# -ge 2 ] || usage; ranks_per_host=$2; shift 2 ;;
        --keepalive)
            # The daemons' TCP keepalive is what notices a dead link: probe after 5 s idle,
            # every 2 s, give up after 3 misses.
            keepalive=(--mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2
                --mca oob_tcp_keepalive_probes 3)
            shift ;;
        --info) [ $# -ge 2 ] || usage; info=$2; shift 2 ;;
        --rate) [ $# -ge 2 ] || usage; rate=$2; shift 2 ;;
        --self-test) self_test=1; shift ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
[[ "$ranks_per_host" =~ ^[1-9][0-9]*$ ]] || usage
# The rate in bits per second, from tc's units (bit, kbit, mbit, gbit; decimal multiples).
rate_bits=0
if [ "$rate" != none ]; then
    if [[ "$rate" =~ ^([0-9]+)(bit|kbit|mbit|gbit)$ ]]; then
        case "${BASH_REMATCH[2]}" in
            bit) rate_bits=${BASH_REMATCH[1]} ;;
            kbit) rate_bits=$((BASH_REMATCH[1] * 1000)) ;;
            mbit) rate_bits=$((BASH_REMATCH[1] * 1000000)) ;;
            gbit) rate_bits=$((BASH_REMATCH[1] * 1000000000)) ;;
        esac
    fi
    if [ "$rate_bits" -lt 1000000 ]; then
        echo "$0: --rate wants a rate of at least 1mbit in tc's units (e.g. 1gbit, 100mbit) or none, not '$rate'" >&2
        exit 2
    fi
fi
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces (running as uid $(id -u))"
command -v ip >/dev/null || skip "no 'ip' command (apt-get install iproute2)"
command -v unshare >/dev/null || skip "no 'unshare' command (apt-get install util-linux)"
command -v mpirun >/dev/null || skip "no 'mpirun' (apt-get install openmpi-bin)"

if [ -n "${self_test:-}" ]; then
    # Compile the probe, then run it through this script with 1 and 2 ranks per host: every
    # rank must report, both hostnames must appear, and the allreduce must be right.
    probe_dir=$(mktemp -d /tmp/two-hosts-probe.XXXXXX)
    trap 'rm -rf "$probe_dir"' EXIT
    mpicc -O2 -o "$probe_dir/probe" "$here/two-hosts-probe.c"
    for n in 1 2; do
        echo "== $n rank(s) per host"
        "$0" --ranks-per-host "$n" -- "$probe_dir/probe" 2>&1 | tee "$probe_dir/out"
        ranks=$(grep -c '^rank ' "$probe_dir/out")
        hosts=$(sed -n 's/^rank .* on //p' "$probe_dir/out" | sort -u | wc -l)
        if ! grep -q '^allreduce ok' "$probe_dir/out" || [ "$ranks" -ne $((2 * n)) ] || [ "$hosts" -ne 2 ]; then
            echo "two-hosts self-test FAILED with $n rank(s) per host" >&2
            exit 1
        fi
    done
    echo "two-hosts self-test passed"
    exit 0
fi
[ $# -gt 0 ] || usage
# shellcheck source=scripts/mpi-env.sh
source "$here/mpi-env.sh"

# Names unique to this invocation so that parallel runs never clash. Interface names are
# limited to 15 characters: "lmhv1-" + a PID of at most 7 digits fits.
h1="lmh1-$$" h2="lmh2-$$" link1="lmhv1-$$" link2="lmhv2-$$"
# Each pair of namespaces has its own network stack, so any private /24 works; deriving it
# from the PID just tells runs apart in logs.
subnet="10.213.$(($$ % 250 + 1))"
work=$(mktemp -d /tmp/two-hosts.XXXXXX)
# A stop before mpirun runs must still pass through the EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT

remove_namespaces() {
    local ns
    for ns in "$@"; do
        # Leftover processes (a daemon cut off by a dead link) would keep the namespace alive.
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
}

# shellcheck disable=SC2317  # only called by the EXIT trap
teardown() {
    remove_namespaces "$h1" "$h2"
    # Only exists here if setup failed before the end was moved into its namespace.
    ip link del "$link1" 2>/dev/null || true
    rm -rf "$work"
}
trap teardown EXIT

# Hosts of an earlier run that was SIGKILLed (no trap runs then): their PID is gone.
for ns in $(ip netns list | sed -n 's/^\(lmh[12]-\([0-9]*\)\)\( .*\)\{0,1\}$/\1:\2/p'); do
    kill -0 "${ns#*:}" 2>/dev/null || remove_namespaces "${ns%:*}"
done

if ! error=$(ip netns add "$h1" 2>&1); then
    skip "'ip netns add' failed: $error"
fi
ip netns add "$h2"
ip link add "$link1" type veth peer name "$link2"
ip link set "$link1" netns "$h1"
ip link set "$link2" netns "$h2"
ip -n "$h1" addr add "$subnet.1/24" dev "$link1"
ip -n "$h2" addr add "$subnet.2/24" dev "$link2"
for ns in "$h1" "$h2"; do
    ip -n "$ns" link set lo up
done
ip -n "$h1" link set "$link1" up
ip -n "$h2" link set "$link2" up
if [ "$rate_bits" -gt 0 ]; then
    command -v tc >/dev/null || skip "no 'tc' command for --rate (apt-get install iproute2)"
    # The bucket holds 4 ms of the rate, at least 256 KB: a burst smaller than one segment the
    # veth hands over (GSO packets up to 64 KB) drops it, and a few ms is what a real link's
    # switch buffers absorb. Packets wait up to 200 ms in the queue before tbf drops them.
    burst=$((rate_bits / 8 / 250))
    [ "$burst" -ge 262144 ] || burst=262144
    for end in "$h1:$link1" "$h2:$link2"; do
        if ! error=$(ip netns exec "${end%%:*}" tc qdisc add dev "${end#*:}" root tbf rate "$rate" \
            burst "$burst" latency 200ms 2>&1); then
            echo "$0: tc could not shape the link to $rate: $error" >&2
            exit 1
        fi
    done
fi

# mpirun's replacement for ssh: runs the daemon's command inside the host's namespace, with
# its own hostname so that ranks can tell the hosts apart.
cat >"$work/agent" <<'EOF'
#!/bin/sh
host=$1
shift
exec ip netns exec "$host" unshare --uts /bin/sh -c 'hostname "$1" && exec /bin/sh -c "$2"' sh "$host" "$*"
EOF
chmod +x "$work/agent"

echo "two-hosts: hosts $h1 $h2 link $link1 $link2 subnet $subnet.0/24 rate $rate" >&2
if [ -n "$info" ]; then
    # Written whole, then renamed, so a test polling for the file never reads half of it.
    printf 'H1=%s\nH2=%s\nLINK1=%s\nLINK2=%s\nSUBNET=%s\n' "$h1" "$h2" "$link1" "$link2" \
        "$subnet.0/24" >"$info.tmp"
    mv "$info.tmp" "$info"
fi

# mpirun runs inside h1 (from the root namespace the daemons cannot reach it) and under h1's
# hostname, so h1's ranks are its own children and only h2 is started through the agent.
hosts="$h1:$ranks_per_host,$h2:$ranks_per_host"
# shellcheck disable=SC2054  # the commas separate MCA list items, not array elements
mpirun=(mpirun --mca plm_rsh_agent "$work/agent" --host "$hosts"
    -n $((2 * ranks_per_host)) -npernode "$ranks_per_host"
    # Without this every "host" binds its ranks to the same cores.
    --bind-to none
    # Without this the daemon segfaulted in about 1 run in 8 here.
    --mca rtc_hwloc_vmhole none
    # TCP is the transport under test, so ranks use it even on one host; daemons and ranks
    # only use the veth's subnet.
    --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24"
    "${keepalive[@]}" "$@")
# shellcheck disable=SC2016  # $1 and $@ belong to the inner shell
ip netns exec "$h1" unshare --uts /bin/sh -c 'hostname "$1" && shift && exec "$@"' sh "$h1" \
    "${mpirun[@]}" &
job=$!
# Forward a stop request to mpirun, which passes it to every rank; the EXIT trap then cleans up.
trap 'kill -TERM "$job" 2>/dev/null || true' TERM
trap 'kill -INT "$job" 2>/dev/null || true' INT
while :; do
    status=0
    wait "$job" || status=$?
    # A trapped signal interrupts `wait` while mpirun still runs: keep waiting for its status.
    kill -0 "$job" 2>/dev/null || break
done

# The proof that the job really talked over the link, not through shared memory.
read -r tx rx < <(ip netns exec "$h1" cat "/sys/class/net/$link1/statistics/tx_bytes" \
    "/sys/class/net/$link1/statistics/rx_bytes" | paste -sd' ')
echo "two-hosts: mpirun exited $status; the link carried $tx bytes out of $h1, $rx bytes in" >&2
exit "$status"
