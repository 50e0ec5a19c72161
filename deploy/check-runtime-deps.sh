#!/usr/bin/env bash
# Builds the binaries with the Dockerfile's flags (into .build/release) and checks that every shared
# library they need comes from a package the runtime stage installs (or that debian:bookworm-slim
# already has). The runtime packages are read from the Dockerfile's runtime stage.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME_PACKAGES=$(sed -n '/^FROM debian:bookworm-slim/,$p' deploy/Dockerfile |
    grep -o -E 'apt-get install -y --no-install-recommends [a-z0-9. +-]+' | cut -d' ' -f5-)
echo "runtime stage installs: $RUNTIME_PACKAGES"
# Essential packages of debian:bookworm-slim that binaries may link.
BASE_PACKAGES="libc6 libgcc-s1 libstdc++6"
allowed=" $RUNTIME_PACKAGES $BASE_PACKAGES "
status=0
for product in asset-renamer cloudinary-emulator; do
    swift build -c release --static-swift-stdlib --product "$product" >/dev/null
    binary=".build/release/$product"
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
