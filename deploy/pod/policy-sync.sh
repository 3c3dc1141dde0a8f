#!/bin/sh
# The DaemonSet's long-running container (unprivileged): keeps the host's policy file equal
# to the ConfigMap's, replacing it by rename so that a reader never sees half a file.
set -u

src=/etc/pullgate-config/policy.yaml
dst=/host/etc/pullgate/policy/policy.yaml

trap 'exit 0' TERM INT
while :; do
  if [ -f "$src" ] && ! cmp -s "$src" "$dst"; then
    cp "$src" "$dst.tmp" && mv -f "$dst.tmp" "$dst" && echo "policy-sync: updated $dst"
  fi
  sleep 10 &
  wait $!
done
