#!/usr/bin/env bash
# Builds OpenH264's 64-bit Windows DLL from Debian's source package, for the
# Windows test lane (scripts/wine-lane.sh calls it). Idempotent; prints the
# DLL's path.
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/openh264/win64-<Debian source version>/
#     openh264-<upstream version>-win64.dll   the DLL, stripped, keyed by the source version
#     build.log                               the build's output
#
# Steps: a deb-src entry for the same archive as the system's binary
# packages when apt has none (written once, to
# /etc/apt/sources.list.d/peerdesk-deb-src.sources, from the system's own
# `deb` entries); the candidate source version from `apt-cache showsrc`;
# when that version is not cached: nasm and mingw-w64's g++ through
# ensure-packages.sh, `apt-get source openh264=<version>` (Debian's patches
# applied), and the upstream Makefile's mingw build (OS=mingw_nt
# ARCH=x86_64) with libgcc and libstdc++ linked statically, so the DLL
# imports only Windows system DLLs (checked). Cisco's H.264 patent licence
# covers only Cisco's own binaries, not this build: it is for tests.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/peerdesk/openh264
srclist=/etc/apt/sources.list.d/peerdesk-deb-src.sources

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi

# candidate prints the highest version of the openh264 source package apt knows.
candidate() {
  { apt-cache showsrc --only-source openh264 2>/dev/null || true; } | awk '/^Version:/ {print $2}' | sort -V | tail -n1
}

ver=$(candidate)
if [ -z "$ver" ]; then
  # No deb-src for the archive: mirror the system's deb entries as deb-src.
  if [ ! -f "$srclist" ]; then
    tmp=$(mktemp)
    {
      echo "# Written by peerdesk scripts/openh264-win.sh: source packages from the"
      echo "# same archive as the binary ones (apt-get source openh264)."
      if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed -e 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources
      elif [ -f /etc/apt/sources.list ]; then
        grep -E '^deb[[:space:]]' /etc/apt/sources.list | sed -e 's/^deb[[:space:]]/deb-src /'
      fi
    } >"$tmp"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      $sudo install -m 644 "$tmp" "$srclist"
    else
      $sudo install -m 644 "$tmp" "${srclist%.sources}.list"
    fi
    rm -f "$tmp"
  fi
  $sudo apt-get update -qq
  ver=$(candidate)
  [ -n "$ver" ] || { echo "openh264-win: apt knows no openh264 source package (deb-src)" >&2; exit 1; }
fi

upver=${ver#*:}
upver=${upver%%[+~-]*}
dir=$cache/win64-$ver
dll=$dir/openh264-$upver-win64.dll
if [ -f "$dll" ]; then
  echo "$dll"
  exit 0
fi

"$here/ensure-packages.sh" nasm=nasm x86_64-w64-mingw32-g++-win32=g++-mingw-w64-x86-64-win32 dpkg-source=dpkg-dev
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
(cd "$work" && apt-get source -qq "openh264=$ver" >"$work/source.log" 2>&1) || { cat "$work/source.log" >&2; exit 1; }
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'openh264-*' | head -n1)
[ -n "$src" ] || { echo "openh264-win: apt-get source left no source tree" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
# The win32-threads toolchain: OpenH264 uses Win32 threads on Windows, and
# this g++ needs no libwinpthread-1.dll at run time.
if ! nice -n 10 make -C "$src" -j"$jobs" OS=mingw_nt ARCH=x86_64 \
  CC=x86_64-w64-mingw32-gcc-win32 CXX=x86_64-w64-mingw32-g++-win32 \
  AR=x86_64-w64-mingw32-ar \
  LDFLAGS="-static-libgcc -static-libstdc++ -static" \
  libopenh264.dll >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  echo "openh264-win: the mingw build of openh264 $ver failed (log above)" >&2
  exit 1
fi
x86_64-w64-mingw32-strip -o "$work/out.dll" "$src/libopenh264.dll"
# Only Windows' own DLLs may be imported: no MinGW runtime beside it.
imports=$(x86_64-w64-mingw32-objdump -p "$work/out.dll" | awk '/DLL Name:/ {print tolower($3)}' | sort -u)
for d in $imports; do
  case $d in
  kernel32.dll | msvcrt.dll | user32.dll | advapi32.dll | api-ms-win-*) ;;
  *)
    echo "openh264-win: the DLL imports $d (want Windows system DLLs only): $imports" >&2
    exit 1
    ;;
  esac
done
echo "openh264 $ver for win64 built in $(($(date +%s) - start)) s" >>"$work/build.log"
mkdir -p "$dir"
cp "$work/build.log" "$dir/build.log"
mv "$work/out.dll" "$dll"
echo "openh264-win: built $dll in $(($(date +%s) - start)) s" >&2
echo "$dll"
