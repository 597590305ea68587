#!/bin/sh
# Makes sure the Debian `prosody` package is installed for the interop suite (test/interop), without
# ever starting the system service. Idempotent: does nothing when prosody is already there.
# Always exits 0: when it cannot install, it prints one "prosody unavailable: <why>" line and the
# suite skips its tests (visibly) instead of failing the build on machines without apt or root.
#
# Never runs `prosody --version`, `prosodyctl status` or anything else that would load the system
# config (/etc/prosody): those can start a server listening on every interface.
set -u

have_prosody() {
  command -v prosody >/dev/null 2>&1 && command -v prosodyctl >/dev/null 2>&1
}

# Stops any system prosody (started by a package script despite the guard, or already running),
# by pid. Our own test servers run with --config under a temp dir and are left alone.
stop_system_prosody() {
  for pid in $(pgrep -x prosody 2>/dev/null; pgrep -f '^lua[0-9.]* /usr/bin/prosody' 2>/dev/null); do
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    case "$cmdline" in
      *--config*) ;; # a harness-owned server: not ours to stop here
      *) echo "setup-prosody: stopping system prosody (pid $pid)"; kill "$pid" 2>/dev/null || true ;;
    esac
  done
}

if have_prosody; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "prosody unavailable: not installed, and installing it needs root (run: sudo apt-get install prosody)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "prosody unavailable: not installed, and this machine has no apt-get (a Debian/Ubuntu package is needed)"
  exit 0
fi

# Debian's invoke-rc.d consults policy-rc.d: exit 101 means "do not start services", so the package's
# postinst does not start a system prosody listening on all interfaces.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# written by setup-prosody.sh while installing prosody\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  created_policy=1
fi
cleanup() {
  if [ "$created_policy" = 1 ]; then rm -f "$POLICY"; fi
}
trap cleanup EXIT INT TERM

log=$(mktemp)
ok=0
echo "setup-prosody: installing the Debian package prosody (apt-get update, then install)"
if DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1; then
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prosody >>"$log" 2>&1; then
    ok=1
  fi
fi
stop_system_prosody

if [ "$ok" = 1 ] && have_prosody; then
  echo "setup-prosody: prosody installed"
  rm -f "$log"
  exit 0
fi
why=$(grep -E '^(E|W): ' "$log" | head -n 1)
rm -f "$log"
echo "prosody unavailable: apt-get install prosody failed${why:+ ($why)}"
exit 0
