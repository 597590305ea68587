# Sourced by the setup-*.sh scripts: installs one Debian package for the interop suite, never
# starting a system service, and says in one line why not when it cannot.
#
#   apt_install PACKAGE LABEL
#     returns 0 when apt-get installed PACKAGE; otherwise returns 1 and sets APT_WHY to a reason
#     ("needs root", "no apt-get", or apt's first E:/W: line). Output goes to stdout prefixed LABEL.
#
# Debian's invoke-rc.d consults /usr/sbin/policy-rc.d: exit 101 means "do not start services", so
# a package's postinst cannot start, say, a Prosody listening on every interface. The guard is
# written only when absent and removed again only if we wrote it.
apt_install() {
  pkg=$1
  label=$2
  APT_WHY=
  if [ "$(id -u)" != 0 ]; then
    APT_WHY="not installed, and installing it needs root (run: sudo apt-get install $pkg)"
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    APT_WHY="not installed, and this machine has no apt-get (a Debian/Ubuntu package is needed)"
    return 1
  fi
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by %s while installing %s\nexit 101\n' "$label" "$pkg" >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  log=$(mktemp)
  echo "$label: installing the Debian package $pkg"
  status=1
  # `apt-get update` only when the lists do not know the package (a fresh machine has empty lists)
  # or the first attempt fails (stale lists pointing at removed versions).
  if apt-cache show "$pkg" >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >>"$log" 2>&1; then
    status=0
  elif DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >>"$log" 2>&1; then
    status=0
  fi
  if [ "$status" != 0 ]; then
    why=$(grep -E '^(E|W): ' "$log" | head -n 1)
    APT_WHY="apt-get install $pkg failed${why:+ ($why)}"
  fi
  rm -f "$log"
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
  return "$status"
}
