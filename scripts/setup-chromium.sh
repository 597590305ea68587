#!/bin/sh
# Makes sure Debian's `chromium` is installed for the emulator console's browser tests
# (packages/emulator/test/console.browser.test.ts, driven by playwright-core, which downloads no
# browser of its own). Idempotent: does nothing when /usr/bin/chromium is already there.
# Always exits 0: when it cannot install, it prints one "chromium unavailable: <why>" line and the
# browser tests skip visibly instead of failing the build on machines without apt or root.
set -u

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

. "$(dirname "$0")/lib/apt-install.sh"
if apt_install chromium setup-chromium; then
  if [ -x /usr/bin/chromium ]; then
    echo "setup-chromium: chromium installed"
    exit 0
  fi
  APT_WHY="the package installed, but /usr/bin/chromium is missing"
fi
echo "chromium unavailable: $APT_WHY"
exit 0
