#!/usr/bin/env bash
# Installs the Debian packages coline's build, tests and demo need, if any is missing.
#   scripts/setup.sh [extra-package...]
set -euo pipefail
packages=(g++ cmake ninja-build meson pkg-config libasio-dev doctest-dev libfmt-dev netcat-openbsd php-cli libssl-dev openssl
          memcached libmemcached-tools python3-pymemcache redis-server redis-tools "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
