# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): helpers shared by the scenarios of several
# files.

# wait_exit SECONDS: the agent's exit code once it ended by itself (124 = still running: killed)
# shellcheck disable=SC2034 # RC is read by the scenarios
wait_exit() {
    local end=$((SECONDS + $(secs "$1")))
    while [ $SECONDS -lt $end ] && kill -0 "$AGENT_PID" 2>/dev/null; do sleep 0.2; done
    if kill -0 "$AGENT_PID" 2>/dev/null; then agent_kill9; RC=124; return; fi
    RC=0
    wait "$AGENT_PID" || RC=$?
    AGENT_PID=""
}
