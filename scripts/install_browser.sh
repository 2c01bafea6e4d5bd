#!/usr/bin/env bash
# Install the headless browser used by the real-browser tests (tests/browser).
#
# Idempotent: does nothing (exit 0) when /usr/bin/chromium is already present.
# Otherwise installs Debian's `chromium` package with apt-get (needs root or
# sudo; about 2-3 minutes on a fresh machine). Never downloads a browser from
# anywhere else: do NOT run `playwright install` (it fails offline).
#
# Usage:  bash scripts/install_browser.sh
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: $CHROMIUM already present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown')); nothing to do."
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: $CHROMIUM is missing and apt-get is not available;" >&2
    echo "install_browser: install Chromium with your system's package manager so that $CHROMIUM exists." >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_browser: need root (or sudo) to run apt-get install chromium." >&2
        exit 1
    fi
fi

echo "install_browser: $CHROMIUM missing; running: ${SUDO:+$SUDO }apt-get update"
$SUDO apt-get update
echo "install_browser: running: ${SUDO:+$SUDO }apt-get install -y chromium"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium

if [ ! -x "$CHROMIUM" ]; then
    echo "install_browser: apt-get finished but $CHROMIUM is still missing." >&2
    exit 1
fi
echo "install_browser: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")."
