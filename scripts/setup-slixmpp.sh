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

if [ "$(id -u)" != 0 ]; then
  echo "slixmpp unavailable: python3-slixmpp is not installed, and installing it needs root (run: sudo apt-get install python3-slixmpp)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "slixmpp unavailable: python3-slixmpp is not installed, and this machine has no apt-get (a Debian/Ubuntu package is needed)"
  exit 0
fi

# Nothing in python3-slixmpp's dependencies ships a service, but a policy-rc.d guard costs nothing
# and keeps any postinst from starting one (exit 101 = "do not start services").
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# written by setup-slixmpp.sh while installing python3-slixmpp\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  created_policy=1
fi
log=$(mktemp)
cleanup() {
  if [ "$created_policy" = 1 ]; then rm -f "$POLICY"; fi
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-slixmpp >>"$log" 2>&1
}

echo "setup-slixmpp: installing the Debian package python3-slixmpp"
ok=0
# `apt-get update` only when the package lists do not know the package yet (a fresh container has
# empty lists) or the first install attempt fails (stale lists pointing at removed versions).
if apt-cache show python3-slixmpp >/dev/null 2>&1 && install; then
  ok=1
elif DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 && install; then
  ok=1
fi

if [ "$ok" = 1 ] && have_slixmpp; then
  echo "setup-slixmpp: python3-slixmpp installed"
  exit 0
fi
why=$(grep -E '^(E|W): ' "$log" | head -n 1)
if [ "$ok" = 1 ]; then
  echo "slixmpp unavailable: python3-slixmpp installed, but $PY cannot import slixmpp"
else
  echo "slixmpp unavailable: apt-get install python3-slixmpp failed${why:+ ($why)}"
fi
exit 0
