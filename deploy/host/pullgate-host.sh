#!/bin/bash
# Installs, upgrades, watches and removes pullgate's host service on one node.
#
#   pullgate-host.sh install --release DIR [--serve-args ARGS] [--fallback direct|none]
#   pullgate-host.sh uninstall
#   pullgate-host.sh guard       run by pullgate-guard.timer
#   pullgate-host.sh fallback    run when pullgate.service gives up
#
# A release is a directory /opt/pullgate/releases/<id> holding the image's file tree in
# rootfs/. install makes it current, restarts pullgate behind its systemd-held socket, rolls
# back to the previous release if the new one does not answer, and only then switches the
# kubelet (kubelet-switch.sh). uninstall switches the kubelet back before anything stops.
#
# Environment, all optional: PULLGATE_HOST_ROOT (fake host root for tests),
# PULLGATE_SYSTEMCTL (default systemctl), PULLGATE_PREFLIGHT (shell command that checks a
# release; $1 is its directory), PULLGATE_HEALTH_WAIT (seconds, default 60),
# PULLGATE_GUARD_FAILURES (default 10), PULLGATE_FALLBACK (direct|none, default direct),
# and kubelet-switch.sh's PULLGATE_PROBE_CMD, PULLGATE_KUBELET_RESTART, PULLGATE_SOCKET.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root="${PULLGATE_HOST_ROOT:-}"
base=/opt/pullgate
etc=/etc/pullgate
unit_dir=/etc/systemd/system
socket="${PULLGATE_SOCKET:-/run/pullgate/pullgate.sock}"
marker="$root/var/lib/pullgate/fallback-active"
units=(pullgate.socket pullgate.service pullgate-fallback.service pullgate-guard.service
  pullgate-guard.timer)
# The uid of the DaemonSet's unprivileged container, which keeps the policy file current.
policy_writer=65532

log() { printf 'pullgate-host: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}
units_ctl() { ${PULLGATE_SYSTEMCTL:-systemctl} "$@"; }

answers() {
  if [ -n "${PULLGATE_PROBE_CMD:-}" ]; then
    sh -c "$PULLGATE_PROBE_CMD"
  else
    "$here/cri-probe.sh" "$root$socket"
  fi
}

wait_healthy() {
  local deadline=$((SECONDS + ${PULLGATE_HEALTH_WAIT:-60}))
  until answers; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 1
  done
}

preflight() {
  if [ -n "${PULLGATE_PREFLIGHT:-}" ]; then
    sh -c "$PULLGATE_PREFLIGHT" preflight "$1"
  else
    # The same root and API file systems as pullgate.service, in a throw-away unit.
    systemd-run --quiet --wait --pipe --collect -p RootDirectory="$1/rootfs" \
      -p MountAPIVFS=yes /app/bin/pullgate --help >/dev/null
  fi
}

# point LINK TARGET: make a symlink name TARGET, atomically (a rename, never a gap).
point() {
  ln -sfn "$2" "$root$1.new"
  mv -T "$root$1.new" "$root$1"
}

# The runtime socket pullgate forwards to: the one the kubelet itself uses for containers.
upstream_socket() {
  local endpoint
  endpoint=$("$here/kubelet-switch.sh" runtime-endpoint 2>/dev/null || true)
  endpoint=${endpoint#unix://}
  if [ -n "$endpoint" ]; then
    echo "$endpoint"
  elif [ -S "$root/run/crio/crio.sock" ] || [ -S "$root/var/run/crio/crio.sock" ]; then
    echo /var/run/crio/crio.sock
  else
    echo /run/containerd/containerd.sock
  fi
}

# write_if_changed FILE: stdin becomes FILE unless FILE already holds it; 0 when written.
write_if_changed() {
  local tmp="$1.new"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$1"
}

install_files() {
  local changed=1 unit args=$1 fallback=$2
  mkdir -p "$root$base/bin" "$root$etc/policy" "$root$unit_dir"
  chown "$policy_writer:$policy_writer" "$root$etc/policy"
  for f in pullgate-host.sh kubelet-switch.sh cri-probe.sh; do
    install -m 0755 "$here/$f" "$root$base/bin/$f"
  done
  for unit in "${units[@]}"; do
    write_if_changed "$root$unit_dir/$unit" <"$here/systemd/$unit" && changed=0
  done
  case " $args " in *" --upstream "*) ;; *) args="--upstream $(upstream_socket) $args" ;; esac
  {
    echo "# Written by pullgate-host.sh install from the DaemonSet; edits are overwritten."
    echo "PULLGATE_SERVE_ARGS=\"${args% }\""
    echo "PULLGATE_FALLBACK=$fallback"
  } | write_if_changed "$root$etc/pullgate.env" && changed=0
  return $changed
}

# Keep the current and previous releases; older ones only take disk space.
prune_releases() {
  local keep_current keep_previous dir
  keep_current=$(readlink "$root$base/current" || true)
  keep_previous=$(readlink "$root$base/previous" || true)
  for dir in "$root$base"/releases/*; do
    [ -d "$dir" ] || continue
    case "${dir#"$root"}" in "$keep_current" | "$keep_previous") ;; *) rm -rf "$dir" ;; esac
  done
}

# Mount points for the unit's bind mounts: the copy of the image leaves out what the
# container runtime had mounted over them.
prepare_rootfs() {
  local rootfs="$root$1/rootfs"
  mkdir -p "$rootfs/etc/pullgate" "$rootfs/run/containerd" "$rootfs/run/crio"
  touch "$rootfs/etc/resolv.conf" "$rootfs/etc/hosts"
}

cmd_install() {
  local release="" args="" fallback=direct old config_changed=1
  while [ $# -gt 0 ]; do
    case "$1" in
    --release) release=${2%/}; shift 2 ;;
    --serve-args) args=$2; shift 2 ;;
    --fallback) fallback=$2; shift 2 ;;
    *) die "unknown option $1" ;;
    esac
  done
  [ -n "$release" ] || die "install needs --release DIR"
  [ -d "$root$release/rootfs/app" ] || die "no release at $release (missing rootfs/app)"
  case "$fallback" in
  direct | none) ;;
  *) die "--fallback must be direct or none, not $fallback" ;;
  esac
  prepare_rootfs "$release"
  preflight "$release" || die "release $release fails its preflight; nothing changed"

  install_files "$args" "$fallback" && config_changed=0
  old=$(readlink "$root$base/current" || true)
  units_ctl daemon-reload
  units_ctl enable pullgate.socket pullgate.service pullgate-guard.timer
  units_ctl start pullgate.socket

  if [ "$old" != "$release" ]; then
    [ -z "$old" ] || point "$base/previous" "$old"
    point "$base/current" "$release"
    log "release $(basename "$release") is current (was ${old:-none})"
    units_ctl restart pullgate.service
  elif [ "$config_changed" = 0 ]; then
    units_ctl restart pullgate.service
  else
    units_ctl start pullgate.service
  fi

  if ! wait_healthy; then
    if [ -n "$old" ] && [ "$old" != "$release" ]; then
      point "$base/current" "$old"
      units_ctl restart pullgate.service
      die "release $(basename "$release") does not answer; rolled back to $(basename "$old")"
    fi
    die "pullgate does not answer on $socket; the kubelet was not switched"
  fi

  "$here/kubelet-switch.sh" enable --wait "${PULLGATE_HEALTH_WAIT:-60}"
  rm -f "$marker"
  units_ctl start pullgate-guard.timer
  prune_releases
  log "installed; the kubelet pulls through pullgate"
}

cmd_uninstall() {
  local unit
  # The kubelet goes back to the runtime first: the socket must outlive every use of it.
  "$here/kubelet-switch.sh" disable
  units_ctl disable --now pullgate-guard.timer pullgate.service pullgate.socket || true
  for unit in "${units[@]}"; do
    rm -f "$root$unit_dir/$unit"
  done
  units_ctl daemon-reload
  rm -rf "${root:?}$base" "${root:?}$etc" "$root/var/lib/pullgate/guard" "$marker"
  log "uninstalled; the kubelet pulls from the runtime directly"
}

cmd_fallback() {
  if [ "${PULLGATE_FALLBACK:-direct}" = none ]; then
    log "pullgate is down and PULLGATE_FALLBACK=none: the kubelet stays pointed at pullgate"
    return 0
  fi
  mkdir -p "$(dirname "$marker")"
  "$here/kubelet-switch.sh" disable
  printf 'since=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$marker"
  log "pullgate is down: the kubelet pulls from the runtime directly until pullgate answers"
}

cmd_guard() {
  local dir="$root/var/lib/pullgate/guard" failures
  mkdir -p "$dir"
  failures=$(cat "$dir/failures" 2>/dev/null || echo 0)
  if answers; then
    echo 0 >"$dir/failures"
    if [ -f "$marker" ]; then
      "$here/kubelet-switch.sh" enable --wait 0
      rm -f "$marker"
      log "pullgate answers again: the kubelet pulls through pullgate"
    fi
    return 0
  fi
  failures=$((failures + 1))
  echo "$failures" >"$dir/failures"
  log "pullgate does not answer ($failures in a row)"
  if ((failures >= ${PULLGATE_GUARD_FAILURES:-10})) && [ ! -f "$marker" ]; then
    cmd_fallback
  fi
}

case "${1:-}" in
install) shift; cmd_install "$@" ;;
uninstall) cmd_uninstall ;;
guard) cmd_guard ;;
fallback) cmd_fallback ;;
*) die "usage: pullgate-host.sh install --release DIR [--serve-args ARGS]" \
  "| uninstall | guard | fallback" ;;
esac
