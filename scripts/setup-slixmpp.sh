#!/bin/sh
# Makes sure Debian's python3-slixmpp is importable by Debian's own /usr/bin/python3, for the
# slixmpp-against-the-emulator interop test (test/interop/slixmpp-emulator.test.ts).
# Idempotent: does nothing when `import slixmpp` already works.
# Always exits 0: when it cannot install, it prints one "slixmpp unavailable: <why>" line and the
# test skips (visibly) instead of failing the run on machines without apt or root.
#
# Only /usr/bin/python3 counts: another python3 earlier on PATH (pyenv, a venv) does not see
# Debian's dist-packages, and the test runs the script with /usr/bin/python3 for that reason.
set -u

PY=/usr/bin/python3

have_slixmpp() {
  [ -x "$PY" ] && "$PY" -c 'import slixmpp' >/dev/null 2>&1
}

if have_slixmpp; then
  exit 0
fi

. "$(dirname "$0")/lib/apt-install.sh"
if apt_install python3-slixmpp setup-slixmpp; then
  if have_slixmpp; then
    echo "setup-slixmpp: python3-slixmpp installed"
    exit 0
  fi
  APT_WHY="python3-slixmpp installed, but $PY cannot import slixmpp"
fi
echo "slixmpp unavailable: $APT_WHY"
exit 0
