#!/bin/sh
# install-deps.sh - the one dependency script (README, .ci/run, docker/Dockerfile).
#
# Installs the Debian 12 packages needed to build and test tiktok-audienced when run as root
# and something is missing, then checks that a Python with moto's server mode exists for the
# integration tests (moto is not packaged by Debian; it cannot be installed from here).
#   scripts/install-deps.sh            build + test packages, moto check
#   scripts/install-deps.sh --build    build packages only (container build stage)
#   scripts/install-deps.sh --runtime  runtime libraries only (container final stage)
set -eu

BUILD_PKGS="build-essential pkg-config libcurl4-openssl-dev libjansson-dev libssl-dev libyaml-dev
 libsystemd-dev libmicrohttpd-dev zlib1g-dev"
TEST_PKGS="libcmocka-dev python3-botocore curl clang libclang-rt-14-dev cppcheck clang-format
 systemd valgrind time"
RUNTIME_PKGS="libcurl4 libjansson4 libssl3 libyaml-0-2 libsystemd0 libmicrohttpd12 zlib1g
 ca-certificates"

mode=${1:-all}
case "$mode" in
    --build) want=$BUILD_PKGS ;;
    --runtime) want=$RUNTIME_PKGS ;;
    all | --all) want="$BUILD_PKGS $TEST_PKGS" ;;
    *) echo "usage: $0 [--build|--runtime]" >&2; exit 64 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "install-deps: installing:$missing" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "install-deps: missing Debian packages:$missing" >&2
        echo "install-deps: run as root: apt-get install$missing" >&2
        exit 1
    fi
fi

[ "$mode" = all ] || [ "$mode" = --all ] || exit 0

# moto's server mode, for the integration tests.
if ! scripts/find-moto-python.sh >/dev/null; then
    cat >&2 <<'MSG'
install-deps: no python3 with moto's server mode was found (needed by the integration tests).
install-deps: install it into a Python 3 of your choice, for example:
install-deps:     python3 -m pip install 'moto[server]==5.2.1' boto3
install-deps: then run the tests with that interpreter first on PATH (or MOTO_PYTHON=/path/to/python3).
MSG
    exit 1
fi
