# Sourced by .ci/run: stop at exit only a Docker engine that this run started.
#
# `cargo xtask engine up` writes `PID STARTTIME` to its pidfile when (and only when) it starts
# a dockerd. engine_owner_before records the pidfile as it is before `engine up`;
# engine_owner_stop runs `cargo xtask engine down` only if the pidfile now names another
# daemon, i.e. this run started it. An engine that already answered (Docker Desktop, a
# service, an earlier separate `engine up`) keeps running.

# the pidfile `engine up` writes (xtask/src/tools/engine.rs, State::default_location)
engine_owner_pidfile() {
    local dir
    if [ -n "${XTASK_ENGINE_STATE:-}" ]; then
        dir="$XTASK_ENGINE_STATE"
    elif [ -d /run ]; then
        dir=/run/xtask-engine
    else
        dir="${TMPDIR:-/tmp}/xtask-engine"
    fi
    printf '%s/dockerd.pid' "$dir"
}

engine_owner_before() {
    ENGINE_OWNER_BEFORE="$(cat "$(engine_owner_pidfile)" 2>/dev/null || true)"
}

engine_owner_stop() {
    local now
    now="$(cat "$(engine_owner_pidfile)" 2>/dev/null || true)"
    if [ -n "$now" ] && [ "$now" != "${ENGINE_OWNER_BEFORE:-}" ]; then
        printf '\n==== engine: stop the daemon this run started (%s)\n' "$now"
        cargo xtask engine down || true
    else
        printf '\n==== engine: left running (this run did not start it)\n'
    fi
}
