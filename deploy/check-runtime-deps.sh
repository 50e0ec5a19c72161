#!/usr/bin/env bash
# Builds the binaries with the Dockerfile's flags and checks that every shared library they need
# comes from a package the runtime stage installs (or that debian:bookworm-slim already has).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=.build-static
RUNTIME_PACKAGES="libssl3 libsqlite3-0 zlib1g ca-certificates"
# Essential packages of debian:bookworm-slim that binaries may link.
BASE_PACKAGES="libc6 libgcc-s1 libstdc++6"
allowed=" $RUNTIME_PACKAGES $BASE_PACKAGES "
status=0
for product in asset-renamer cloudinary-emulator; do
    swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product "$product" >/dev/null
    binary="$SCRATCH/release/$product"
    echo "$product: $(du -h "$binary" | cut -f1) before strip"
    while read -r library path; do
        [ -n "$path" ] || continue
        real=$(readlink -f "$path")
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
done
exit $status
