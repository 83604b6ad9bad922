#!/bin/sh
# build.sh - the build steps of the container image's build stage, runnable (and tested) outside
# Docker: install the build packages if missing, build, and install into a staging tree.
#   docker/build.sh DESTDIR [PREFIX]       (PREFIX default /usr/local)
# Environment: BUILD (build directory, default build), JOBS (parallel jobs, default nproc),
# WERROR (default 1: warnings are errors, as in CI).
# scripts/install-deps.sh --build does nothing when the packages are present, so running this
# on a prepared machine as any user installs nothing.
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DESTDIR [PREFIX]" >&2
    exit 64
fi
destdir=$1
prefix=${2:-/usr/local}
case $destdir in
    /*) ;;
    *) destdir=$(pwd)/$destdir ;;
esac
cd "$(dirname "$0")/.."
build=${BUILD:-build}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

scripts/install-deps.sh --build
make --no-print-directory -j"$jobs" BUILD="$build" WERROR="${WERROR:-1}" all
make --no-print-directory BUILD="$build" PREFIX="$prefix" DESTDIR="$destdir" install
"$destdir$prefix/bin/tiktok-audienced" --version
