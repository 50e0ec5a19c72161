#!/usr/bin/env bash
# The container's release build: deploy/Dockerfile runs it in its build stage, and
# `deploy/check-image-build.sh --build` runs it on the same files without a Docker engine.
# Both binaries with the Swift runtime linked in (--static-swift-stdlib), stripped, into OUT.
set -euo pipefail
out=${1:-/out}
for product in asset-renamer cloudinary-emulator; do
    swift build -c release --static-swift-stdlib --product "$product"
done
mkdir -p "$out"
cp .build/release/asset-renamer .build/release/cloudinary-emulator "$out/"
strip "$out/asset-renamer" "$out/cloudinary-emulator"
