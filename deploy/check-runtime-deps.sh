#!/usr/bin/env bash
# Checks that every shared library the binaries in DIR need comes from a package the Dockerfile's
# runtime stage installs (or that debian:bookworm-slim already has). The runtime packages are read
# from the Dockerfile's runtime stage.
#
#   deploy/check-runtime-deps.sh .build/debug        # CI: the debug build the tests use
#   deploy/check-runtime-deps.sh --static OUT        # nightly: the image's binaries
#                                                    # (deploy/check-image-build.sh --build OUT)
#
# The image links the Swift runtime in (--static-swift-stdlib): in a debug build, the toolchain's
# own libraries (stdlib, Foundation, Dispatch) are what that flag puts into the binary, so they are
# reported and accepted; every other library must come from the runtime stage's packages either
# way. With --static, a toolchain library linked dynamically is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
static=false
if [ "${1:-}" = "--static" ]; then
    static=true
    shift
fi
dir=${1:?usage: check-runtime-deps.sh [--static] DIR}
RUNTIME_PACKAGES=$(sed -n '/^FROM debian:bookworm-slim/,$p' deploy/Dockerfile |
    grep -o -E 'apt-get install -y --no-install-recommends [a-z0-9. +-]+' | cut -d' ' -f5-)
echo "runtime stage installs: $RUNTIME_PACKAGES"
# Essential packages of debian:bookworm-slim that binaries may link.
BASE_PACKAGES="libc6 libgcc-s1 libstdc++6"
allowed=" $RUNTIME_PACKAGES $BASE_PACKAGES "
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
status=0
for product in asset-renamer cloudinary-emulator; do
    binary="$dir/$product"
    [ -x "$binary" ] || { echo "$binary: not built" >&2; exit 1; }
    echo "$product: $(du -h "$binary" | cut -f1)"
    toolchain_libraries=()
    while read -r library path; do
        [ -n "$path" ] || continue
        real=$(readlink -f "$path")
        if [[ "$real" == "$toolchain"/* ]]; then
            toolchain_libraries+=("$library")
            if $static; then
                echo "  $library -> the toolchain, linked dynamically: not in the image" >&2
                status=1
            fi
            continue
        fi
        package=$(dpkg -S "$real" 2>/dev/null || dpkg -S "$path" 2>/dev/null || true)
        package=${package%%:*}
        if [ -z "$package" ]; then
            echo "  $library -> $path: not from any Debian package" >&2
            status=1
        elif [[ "$allowed" != *" $package "* ]]; then
            echo "  $library -> $package: NOT installed by the runtime stage" >&2
            status=1
        else
            echo "  $library -> $package"
        fi
    done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $1 ~ /^\// {print $1, $1}' | grep -v 'ld-linux')
    if [ ${#toolchain_libraries[@]} -gt 0 ] && ! $static; then
        echo "  ${#toolchain_libraries[@]} toolchain libraries (linked in by --static-swift-stdlib in the image): ${toolchain_libraries[*]}"
    fi
done
exit $status
