#!/bin/sh
# The DaemonSet's long-running container (unprivileged): keeps the host's policy file equal
# to the ConfigMap's, replacing it by rename so that a reader never sees half a file. A
# ConfigMap edit that pullgate would reject never reaches the node: the file stays at the
# last good policy, so a node that reboots finds a policy pullgate starts with.
set -u

src="${PULLGATE_POLICY_SOURCE:-/etc/pullgate-config/policy.yaml}"
dst="${PULLGATE_POLICY_TARGET:-/host/etc/pullgate/policy/policy.yaml}"
check="${PULLGATE_POLICY_CHECK:-/app/bin/pullgate check-policy}"
interval="${PULLGATE_POLICY_INTERVAL:-10}"

rejected=""
trap 'exit 0' TERM INT
while :; do
  # Content already rejected is not checked again until it changes.
  if [ -f "$src" ] && ! cmp -s "$src" "$dst" && [ "$(cksum <"$src")" != "$rejected" ]; then
    cp "$src" "$dst.tmp"
    if $check "$dst.tmp" >/dev/null; then
      mv -f "$dst.tmp" "$dst" && echo "policy-sync: updated $dst"
      rejected=""
    else
      rm -f "$dst.tmp"
      rejected=$(cksum <"$src")
      echo "policy-sync: the ConfigMap's policy is invalid (above); $dst keeps the last good one"
    fi
  fi
  sleep "$interval" &
  wait $!
done
