#!/usr/bin/env bash
# Sets up the Windows test lane: Wine runs the cross-compiled Windows agent
# (and cross-compiled test binaries) on Linux. Idempotent; prints the prefix.
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/wine/
#     shim-<hash>/bcryptprimitives.dll   the shim, keyed by a hash of its source
#     prefix/                            the Wine prefix (WINEPREFIX)
#     prefix/peerdesk-lane               written last: "shim <hash>" (the lane is ready)
#     prefix/peerdesk-openh264           the path of OpenH264's Windows DLL (scripts/openh264-win.sh)
#
# Steps: wine64 and mingw-w64 through ensure-packages.sh; the shim DLL built
# from harness/wine/shim (Wine 8.0 has no bcryptprimitives.dll, whose
# ProcessPrng Go's Windows runtime needs at start-up); a 64-bit prefix made
# by wineboot with no network (inside `unshare --net` when we may, and
# WINEDLLOVERRIDES="mscoree,mshtml=" so Wine never offers to download Mono or
# Gecko; the run fails if wineboot mentions either); the shim copied into
# the prefix's system32; OpenH264's 64-bit DLL built from Debian's source
# by scripts/openh264-win.sh (cached by source version), its path written
# to prefix/peerdesk-openh264 for the H.264 tests. harness/wine finds the prefix in the same place (or
# at $PEERDESK_WINEPREFIX) and skips its tests, naming `just wine`, when the
# lane is absent.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
"$here/ensure-packages.sh" wine64 x86_64-w64-mingw32-gcc=gcc-mingw-w64-x86-64
openh264=$("$here/openh264-win.sh")

cache=${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/wine
shimsrc=$root/harness/wine/shim
hash=$(cat "$shimsrc/bcryptprimitives.c" "$shimsrc/bcryptprimitives.def" | sha256sum | cut -c1-16)
shimdir=$cache/shim-$hash
shim=$shimdir/bcryptprimitives.dll
prefix=${PEERDESK_WINEPREFIX:-$cache/prefix}
marker=$prefix/peerdesk-lane

# Debian's wine64 puts wine64 and wineserver in /usr/lib/wine, not on PATH.
export PATH=/usr/lib/wine:$PATH
export WINEPREFIX=$prefix WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY

# note_openh264 records where the OpenH264 DLL is (harness/wine reads it).
note_openh264() {
  [ "$(cat "$prefix/peerdesk-openh264" 2>/dev/null)" = "$openh264" ] || echo "$openh264" >"$prefix/peerdesk-openh264"
}

if [ -f "$marker" ] && [ "$(cat "$marker")" = "shim $hash" ] && [ -f "$prefix/drive_c/windows/system32/bcryptprimitives.dll" ]; then
  note_openh264
  echo "$prefix"
  exit 0
fi

mkdir -p "$cache"
if [ ! -f "$shim" ]; then
  work=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  x86_64-w64-mingw32-gcc -O2 -Wall -Werror -shared -nostartfiles -e DllMain \
    -o "$work/bcryptprimitives.dll" "$shimsrc/bcryptprimitives.c" "$shimsrc/bcryptprimitives.def" -ladvapi32
  mkdir -p "$shimdir"
  mv "$work/bcryptprimitives.dll" "$shim"
fi

rm -f "$marker"
if [ ! -f "$prefix/system.reg" ]; then
  mkdir -p "$(dirname "$prefix")"
  net=()
  # No network for Wine's first start: a new network namespace when we may make one.
  if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then net=(unshare --net); fi
  log=$(mktemp)
  "${net[@]}" wine64 wineboot --init >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  "${net[@]}" wineserver --wait || true
  if grep -qiE 'mono|gecko' "$log"; then
    echo "wine-lane: wineboot tried to install Mono or Gecko:" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi
[ -d "$prefix/drive_c/windows/system32" ] || { echo "wine-lane: no system32 in $prefix" >&2; exit 1; }
[ ! -e "$prefix/drive_c/windows/mono" ] || { echo "wine-lane: Mono was installed into $prefix" >&2; exit 1; }
cp "$shim" "$prefix/drive_c/windows/system32/bcryptprimitives.dll"
note_openh264
echo "shim $hash" >"$marker"
echo "$prefix"
