#!/usr/bin/env bash
# Headless Chromium from Debian's packages, for the report browser test (tests/test_report_browser.py).
# Idempotent: does nothing when chromium is already on PATH. Needs root (or sudo) and apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium.sh: apt-get is not available; install Chromium yourself (package 'chromium')" >&2
  exit 3
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install_chromium.sh: not root and no sudo; run: apt-get install -y chromium" >&2
    exit 3
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1
