#!/usr/bin/env bash
# Installs the Debian packages pullgate's lab and tests run for real: containerd (the runtime
# pullgate forwards to), docker-registry (the registry images are pushed to), openssl (test
# certificate authorities), curl (the installer's socket probe), systemd's
# systemd-socket-activate (socket handover tests), and buildah and debootstrap (building the
# image from the Dockerfile on a locally assembled base).
set -euo pipefail

# command the tests run -> the Debian package that provides it
declare -A needed=(
  [containerd]=containerd
  [docker-registry]=docker-registry
  [openssl]=openssl
  [curl]=curl
  [systemd-socket-activate]=systemd
  [buildah]=buildah
  [debootstrap]=debootstrap
)
missing=()
for command in "${!needed[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${needed[$command]}")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "pullgate: needs root to install ${missing[*]} (apt-get); run as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a system containerd on /run/containerd; pullgate's lab and tests run
# their own in a temporary directory and never talk to it.
