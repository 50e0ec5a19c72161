#!/usr/bin/env bash
# The container's build stage, checked without a Docker engine (none runs on the CI machine).
#
#   deploy/check-image-build.sh            # CI: the stage's files load as a package (seconds)
#   deploy/check-image-build.sh --build OUT  # nightly: also the Dockerfile's build command (~7 min)
#
# Lays out exactly what deploy/Dockerfile's build stage copies from the build context, honouring
# .dockerignore (deploy/image-context.py), then loads the package there the way its build would:
# `swift package describe` fails when a target's files are not in the image (the defect of issue
# 11: the manifest named test targets that .dockerignore kept out). With --build it then runs the
# Dockerfile's own build command, deploy/build-release.sh, in that folder and leaves the binaries
# in OUT. Needs python3 with the `docker` package (.ci/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
mkdir "$stage"
python=${PYTHON:-python3}
"$python" deploy/image-context.py . deploy/Dockerfile "$stage" >"$work/run"
echo "build stage laid out from the context: $(cd "$stage" && find . -type f | wc -l) files"
(cd "$stage" && swift package describe --type json >/dev/null)
echo "the build stage's package loads: every target's files are in the image"
if [ "${1:-}" = "--build" ]; then
    out=$(realpath -m "${2:?--build needs an output folder}")
    grep -q 'deploy/build-release.sh' "$work/run" || { echo "the Dockerfile does not run deploy/build-release.sh" >&2; exit 1; }
    (cd "$stage" && deploy/build-release.sh "$out")
fi
