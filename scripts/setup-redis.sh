#!/bin/sh
# Makes sure the Debian `redis-server` package is installed for the Redis store's tests
# (packages/store-redis), without ever starting or keeping the system service. Idempotent: does
# nothing when redis-server is already there.
# Always exits 0: when it cannot install, it prints one "redis unavailable: <why>" line. The tests
# then print the same reason and are counted: skipped on a developer machine without root or apt,
# failed under CI (CI=true), where they must run.
#
# The tests start their own redis-server on a free 127.0.0.1 port with their own config and data
# dir; nothing here or there uses /etc/redis or the system service.
set -u

have_redis() {
  command -v redis-server >/dev/null 2>&1
}

# Stops a system redis-server (started by a package script despite the guard, or already running),
# by pid. Servers started by the test harness run from a config in a ccs-xmpp-redis-* temp dir and
# are left alone.
stop_system_redis() {
  for pid in $(pgrep -x redis-server 2>/dev/null); do
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    case "$cmdline" in
      *ccs-xmpp-redis-*) ;; # a harness-owned server: not ours to stop here
      *) echo "setup-redis: stopping system redis-server (pid $pid)"; kill "$pid" 2>/dev/null || true ;;
    esac
  done
}

if have_redis; then
  exit 0
fi

. "$(dirname "$0")/lib/apt-install.sh"
if apt_install redis-server setup-redis; then
  stop_system_redis
  if have_redis; then
    echo "setup-redis: redis-server installed"
    exit 0
  fi
  APT_WHY="the package installed, but redis-server is not on PATH"
fi
stop_system_redis
echo "redis unavailable: $APT_WHY"
exit 0
