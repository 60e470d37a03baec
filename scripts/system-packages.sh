#!/usr/bin/env bash
# Install the Debian packages the tests use (system-packages.txt, one name a line) when any
# is missing. Needs root and apt-get; otherwise it prints the command to run.
set -euo pipefail
list=${1:-system-packages.txt}
[ -f "$list" ] || exit 0
mapfile -t wanted < <(grep -v '^\s*#' "$list" | tr -s ' \t' '\n' | grep -v '^$' || true)
[ ${#wanted[@]} -gt 0 ] || exit 0
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
    echo "error: the tests need these Debian packages: ${missing[*]}" >&2
    echo "fix: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "==> Installing Debian packages the tests use: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
