#!/usr/bin/env bash
# Installs the Debian 12 packages hybridlens builds and tests with. Idempotent: does nothing when all
# are present. Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libsentencepiece-dev nlohmann-json3-dev libopenblas-dev libcli11-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  chromium
  python3 python3-numpy
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
