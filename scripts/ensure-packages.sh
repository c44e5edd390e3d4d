#!/usr/bin/env bash
# Installs the Debian packages the recipes need when they are missing.
# Arguments: command=package (installed if the command is missing) or a
# bare package name (installed if dpkg does not know it).
set -euo pipefail
missing=()
for arg in "$@"; do
  if [[ $arg == *=* ]]; then
    cmd=${arg%%=*} pkg=${arg#*=}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  else
    dpkg-query -W -f='${Status}' "$arg" 2>/dev/null | grep -q "install ok installed" || missing+=("$arg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
