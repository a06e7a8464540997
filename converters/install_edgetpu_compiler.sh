#!/usr/bin/env bash
# Install Coral's Edge TPU compiler (and optionally the runtime) from Coral's apt repository.
# x86-64 Debian/Ubuntu only: Coral publishes no compiler for other CPUs (see README.md for
# Docker and other hosts). NOT run in this project's CI: no registry reachable there serves it.
#
#   sudo converters/install_edgetpu_compiler.sh            # compiler only
#   sudo converters/install_edgetpu_compiler.sh --runtime  # plus libedgetpu1-std (Edge TPU runtime)
set -euo pipefail

REPO_LINE="https://packages.cloud.google.com/apt coral-edgetpu-stable main"
KEY_URL="https://packages.cloud.google.com/apt/doc/apt-key.gpg"
KEYRING=/usr/share/keyrings/coral-edgetpu-archive-keyring.gpg
LIST=/etc/apt/sources.list.d/coral-edgetpu.list

with_runtime=0
for arg in "$@"; do
  case "$arg" in
    --runtime) with_runtime=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (use --runtime or --help)" >&2; exit 2 ;;
  esac
done

if [ "$(uname -s)" != "Linux" ] || [ "$(uname -m)" != "x86_64" ]; then
  echo "edgetpu_compiler exists only for x86-64 Linux; this is $(uname -s) $(uname -m)." >&2
  echo "Use Docker with --platform linux/amd64 instead: see converters/README.md." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "apt-get not found: this script is for Debian/Ubuntu (see converters/README.md)." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (sudo): it adds an apt source and installs packages." >&2
  exit 1
fi

apt-get update
apt-get install -y --no-install-recommends curl gnupg ca-certificates
# A keyring file scoped to this source, not the deprecated global apt-key.
curl -fsSL "$KEY_URL" | gpg --dearmor --yes -o "$KEYRING"
echo "deb [signed-by=$KEYRING] $REPO_LINE" > "$LIST"
apt-get update
apt-get install -y edgetpu-compiler
if [ "$with_runtime" = 1 ]; then
  apt-get install -y libedgetpu1-std
fi

edgetpu_compiler --version
