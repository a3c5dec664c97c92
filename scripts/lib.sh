# Shared by scripts/demo and scripts/test.

# Runs a build quietly; on failure prints its whole output and stops.
quiet_build() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "build failed: $*" >&2
        exit 1
    fi
    tail -n 1 "$log"
    rm -f "$log"
}
