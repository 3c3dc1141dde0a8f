#!/usr/bin/env bash
# Installs the Debian packages pullgate's lab and end-to-end tests run for real: containerd
# (the runtime pullgate forwards to) and docker-registry (the registry images are pushed to).
set -euo pipefail

missing=()
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
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
