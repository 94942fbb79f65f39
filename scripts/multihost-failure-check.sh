#!/usr/bin/env bash
# Checks that a two-host MPI job ends, in bounded time and with a non-zero exit, when the
# other host fails, and that scripts/two-hosts.sh leaves nothing behind. Faults, each injected
# while the probe's allreduces are busy on the link:
#   kill   SIGKILL of the rank on h2                      must end within 10 s
#   link   h2's end of the veth set down (--keepalive)    must end within 40 s (not 8 minutes)
#   stop   SIGTERM to two-hosts.sh itself                 must end within 10 s
# Prints the measured end times. Exit 0 when all pass, 1 when one fails, 77 when this machine
# cannot create the hosts (not root).
#
#   scripts/multihost-failure-check.sh [kill|link|stop ...]     (default: all three)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d /tmp/multihost-failure.XXXXXX)
trap 'rm -rf "$work"' EXIT
mpicc -O2 -o "$work/probe" "$here/two-hosts-probe.c"

failed=0

# Starts the probe on two hosts for long enough to outlast any fault, waits until rank 0
# reports allreduces over the link, then loads the hosts' names (H1, H2, LINK1, LINK2).
start_job() {
    rm -f "$work/info" "$work/log"
    "$here/two-hosts.sh" --keepalive --info "$work/info" -- "$work/probe" 300 >"$work/log" 2>&1 &
    job=$!
    local tries
    for ((tries = 0; tries < 100; tries++)); do
        if [ -f "$work/info" ] && grep -q '^1 s:' "$work/log"; then
            # shellcheck source=/dev/null
            source "$work/info"
            return 0
        fi
        if ! kill -0 "$job" 2>/dev/null; then
            local status=0
            wait "$job" || status=$?
            # Not root here: pass two-hosts.sh's reason and exit code on, so callers can skip.
            [ "$status" -eq 77 ] && { cat "$work/log" >&2; exit 77; }
            break
        fi
        sleep 0.2
    done
    kill -TERM "$job" 2>/dev/null || true
    wait "$job" || true
    echo "the job did not start:" >&2
    cat "$work/log" >&2
    exit 1
}

# Microseconds since the epoch, from bash itself.
now_us() { echo "${EPOCHREALTIME/./}"; }

# Waits up to LIMIT seconds for the job to end after the fault injected at STARTED (from
# now_us), then checks how it ended.
expect_end() {
    local name=$1 limit=$2 started=$3 status=0 elapsed_us
    while kill -0 "$job" 2>/dev/null; do
        if (($(now_us) - started > limit * 1000000)); then
            kill -TERM "$job"
            break
        fi
        sleep 0.1
    done
    wait "$job" || status=$?
    elapsed_us=$(($(now_us) - started))
    # The line of OpenMPI's report that names the cause, most specific first.
    local reason="" pattern
    for pattern in 'mpirun noticed' 'lost communication' 'unexpectedly disconnected' 'mpirun: Forwarding'; do
        reason=$(grep -m1 "$pattern" "$work/log" | sed 's/^ *//') && break
    done
    local verdict=ok
    if ((elapsed_us > limit * 1000000 || status == 0)); then
        verdict=FAILED
    fi
    if ip netns list | grep -qE "^($H1|$H2)( |$)"; then
        verdict="FAILED (namespaces left behind)"
    fi
    echo "$name: job ended $((elapsed_us / 1000000)).$((elapsed_us / 100000 % 10)) s after the fault, exit $status, limit $limit s: $verdict"
    echo "    ${reason:-no error message}"
    if [ "$verdict" != ok ]; then
        failed=1
        sed 's/^/    | /' "$work/log"
    fi
}

check_kill() {
    start_job
    local pid
    # The probe's process on h2; the other processes there are OpenMPI's daemon and shells.
    for pid in $(ip netns pids "$H2"); do
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = probe ]; then
            kill -9 "$pid"
            expect_end "kill (SIGKILL of the rank on h2)" 10 "$(now_us)"
            return
        fi
    done
    echo "kill: no rank found on $H2" >&2
    failed=1
}

check_link() {
    start_job
    ip -n "$H2" link set "$LINK2" down
    expect_end "link (h2's end of the veth down, --keepalive)" 40 "$(now_us)"
}

check_stop() {
    start_job
    kill -TERM "$job"
    expect_end "stop (SIGTERM to two-hosts.sh)" 10 "$(now_us)"
}

[ $# -gt 0 ] || set -- kill link stop
for fault in "$@"; do
    case "$fault" in
        kill) check_kill ;;
        link) check_link ;;
        stop) check_stop ;;
        *) echo "usage: $0 [kill|link|stop ...]" >&2; exit 2 ;;
    esac
done
exit "$failed"
