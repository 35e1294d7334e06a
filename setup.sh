#!/bin/sh
# Set up patchkit on a Debian machine: system packages (apt), then a virtualenv
# in .venv with patchkit installed editable. With --test, the test tools too.
# Safe to run again: it installs only what is missing.
set -eu
cd "$(dirname "$0")"

# git-email: 'git send-email' (send --via git-send-email), which dies without libmailtools-perl (only a
# recommendation of git-email, and recommends are not installed). python3-ply and python3-git: the tree's
# scripts/checkpatch.pl runs scripts/spdxcheck.py, which imports both (a traceback without them).
packages="git perl xz-utils make gcc libc6-dev bc flex bison libelf-dev libssl-dev cpio
          qemu-system-x86 busybox-static ccache python3-venv linux-source-6.1
          git-email libmailtools-perl python3-ply python3-git"
# The tests also check the lint rules against 6.12, which already holds the upstream TDX code, and stop
# commands at each of their steps with strace's fault injection (tests/robustness/killing.py).
[ "${1:-}" = "--test" ] && packages="$packages linux-source-6.12 strace"
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    echo "setup: installing$missing"
    $sudo apt-get update -q
    # No recommends: QEMU's pull in GTK, gstreamer and audio codecs that a serial-console boot never uses.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
# The patchkit command starts Python with SIGINT/SIGTERM held, so one that comes while Python loads ends
# the run as every interrupt does (exit 130): see patchkit/cli/launcher.py.
.venv/bin/python -m patchkit.cli.launcher
echo "setup: ready: $(.venv/bin/patchkit --version)"
