#!/bin/bash
# The DaemonSet's installer (privileged init container, host PID namespace).
#
# Copies this image's file tree to the host as a release, runs pullgate-host.sh install
# there in the host's namespaces, then lifts the node taint that kept workloads off a node
# that was not yet enforcing. Host paths: /opt/pullgate is mounted at /host/opt/pullgate.
#
# Environment: PULLGATE_SERVE_ARGS, PULLGATE_FALLBACK, NODE_NAME, PULLGATE_TAINT_KEY.
set -euo pipefail

release_id=$(cat /app/RELEASE)
release=/opt/pullgate/releases/$release_id
dest=/host$release

if [ ! -f "$dest/.complete" ]; then
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial/rootfs"
  # --one-file-system leaves out /proc, /sys, /dev, the service account token and every
  # host path mounted into this container: only the image's own files are copied.
  tar --one-file-system -C / -cf - . | tar -C "$dest.partial/rootfs" -xpf -
  touch "$dest.partial/.complete"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
fi

nsenter --target 1 --mount --uts --ipc --net --pid -- \
  "$release/rootfs/app/deploy/host/pullgate-host.sh" install --release "$release" \
  --serve-args "${PULLGATE_SERVE_ARGS:-}" --fallback "${PULLGATE_FALLBACK:-direct}"

if [ -n "${NODE_NAME:-}" ]; then
  node /app/deploy/untaint-node.js "$NODE_NAME" "${PULLGATE_TAINT_KEY:-pullgate/not-enforcing}"
fi
