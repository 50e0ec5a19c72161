# Shared by .ci/run and .ci/nightly: timed stages, Debian packages, the pinned Python tools.
# shellcheck shell=bash

export PATH="/opt/swift/usr/bin:$PATH"
STAGES=()

# stage NAME COMMAND…: runs COMMAND, prints how long it took; the summary lists every stage.
stage() {
    local name=$1
    shift
    local started=$SECONDS
    echo "━━ $name"
    "$@"
    local took=$((SECONDS - started))
    STAGES+=("$(printf '  %-44s %4d s' "$name" "$took")")
    echo "━━ $name: ${took} s"
}

summary() {
    local status=$?
    echo "stage durations:"
    printf '%s\n' "${STAGES[@]}"
    echo "total: ${SECONDS} s$([ "$status" -eq 0 ] || echo ", FAILED (exit $status)")"
}
trap summary EXIT

# Fails with one line unless the checkout's file system has NEEDED_GIB free: a clean debug build of the
# package and its dependencies takes ~2 GiB (release ~3), the tests' journals and PostgreSQL clusters more, and
# a full disk otherwise shows up as a checkout or compile error deep in the log.
ensure_disk_space() {
    local needed=${1:-4} free
    free=$(df -Pk . | awk 'NR == 2 {print int($4 / 1048576)}')
    if [ "$free" -lt "$needed" ]; then
        echo "CI needs ${needed} GiB free on $(df -P . | awk 'NR == 2 {print $6}'); it has ${free} GiB: remove old clones and build folders (e.g. /tmp/tmp.*)" >&2
        return 1
    fi
}

# Installs the Debian packages that are missing.
ensure_packages() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

# The CI tools of .ci/requirements.txt in .build/ci-venv (made again when the file changes), first
# on the PATH. A venv, not a system-wide pip install: Debian's python3 refuses those (PEP 668).
tools_venv() {
    local venv=.build/ci-venv
    if ! cmp -s .ci/requirements.txt "$venv/requirements.installed" 2>/dev/null; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r .ci/requirements.txt
        cp .ci/requirements.txt "$venv/requirements.installed"
    fi
    export PATH="$PWD/$venv/bin:$PATH"
}
