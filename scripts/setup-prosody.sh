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

. "$(dirname "$0")/lib/apt-install.sh"
if apt_install prosody setup-prosody; then
  stop_system_prosody
  if have_prosody; then
    echo "setup-prosody: prosody installed"
    exit 0
  fi
  APT_WHY="the package installed, but prosody/prosodyctl are not on PATH"
fi
stop_system_prosody
echo "prosody unavailable: $APT_WHY"
exit 0
