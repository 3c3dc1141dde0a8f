#!/bin/bash
# Points the kubelet's image service at pullgate, and back at the runtime.
#
#   kubelet-switch.sh enable [--wait SECONDS]  switch once pullgate answers on its socket
#   kubelet-switch.sh disable                  give the kubelet back its own setting
#   kubelet-switch.sh status                   print "pullgate" or "runtime"
#   kubelet-switch.sh runtime-endpoint         print the kubelet's containerRuntimeEndpoint
#
# It edits imageServiceEndpoint in the kubelet's KubeletConfiguration file (the file named
# by the kubelet's --config; on OKE nodes /etc/kubernetes/kubelet-config.json), backs the
# file up first and restarts the kubelet only when the file changed.
#
# Environment, all optional:
#   PULLGATE_HOST_ROOT        prefix of every host path (tests use a fake host in a temp dir)
#   PULLGATE_SOCKET           pullgate's socket (default /run/pullgate/pullgate.sock)
#   PULLGATE_KUBELET_CONFIG   the KubeletConfiguration file, when the kubelet's own is wrong
#   PULLGATE_PROBE_CMD        shell command that succeeds when pullgate answers
#                             (default: cri-probe.sh on the socket)
#   PULLGATE_KUBELET_RESTART  shell command that restarts the kubelet
#                             (default: systemctl restart kubelet)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root="${PULLGATE_HOST_ROOT:-}"
socket="${PULLGATE_SOCKET:-/run/pullgate/pullgate.sock}"
endpoint="unix://$socket"
state_dir="$root/var/lib/pullgate/kubelet-switch"
key=imageServiceEndpoint

log() { printf 'kubelet-switch: %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  log "$*"
  exit "$code"
}

# The running kubelet's arguments, one per line (empty when no kubelet runs).
kubelet_args() {
  local comm
  for comm in "$root"/proc/[0-9]*/comm; do
    [ -r "$comm" ] || continue
    if [ "$(cat "$comm" 2>/dev/null)" = kubelet ]; then
      tr '\0' '\n' <"${comm%/comm}/cmdline"
      return 0
    fi
  done
}

# The value of one kubelet flag, in either --flag=value or --flag value form.
kubelet_flag() {
  local flag=$1 prev="" arg
  while IFS= read -r arg; do
    case "$arg" in "$flag="*)
      printf '%s\n' "${arg#"$flag="}"
      return 0
      ;;
    esac
    if [ "$prev" = "$flag" ]; then
      printf '%s\n' "$arg"
      return 0
    fi
    prev=$arg
  done < <(kubelet_args)
  return 1
}

find_config() {
  local path
  if [ -n "${PULLGATE_KUBELET_CONFIG:-}" ]; then
    printf '%s\n' "$root$PULLGATE_KUBELET_CONFIG"
    return 0
  fi
  if path=$(kubelet_flag --config); then
    printf '%s\n' "$root$path"
    return 0
  fi
  for path in /etc/kubernetes/kubelet-config.json /var/lib/kubelet/config.yaml; do
    if [ -f "$root$path" ]; then
      printf '%s\n' "$root$path"
      return 0
    fi
  done
  return 1
}

format_of() {
  case "$1" in
  *.json) echo json ;;
  *.yaml | *.yml) echo yaml ;;
  *) if grep -q '^[[:space:]]*{' "$1"; then echo json; else echo yaml; fi ;;
  esac
}

# get_value FORMAT FILE KEY: the key's top-level string value, empty when absent.
get_value() {
  if [ "$1" = json ]; then
    grep -o "\"$3\"[[:space:]]*:[[:space:]]*\"[^\"]*\"" "$2" | head -n 1 |
      sed 's/^.*:[[:space:]]*"\(.*\)"$/\1/' || true
  else
    sed -n "s/^$3:[[:space:]]*//p" "$2" | head -n 1 | sed 's/^["'\'']\(.*\)["'\'']$/\1/' || true
  fi
}

has_key() {
  if [ "$1" = json ]; then
    grep -q "\"$key\"[[:space:]]*:" "$2"
  else
    grep -q "^$key:" "$2"
  fi
}

# set_value FORMAT FILE VALUE: the file with imageServiceEndpoint set, on stdout.
set_value() {
  local fmt=$1 file=$2 value=$3
  if has_key "$fmt" "$file"; then
    if [ "$fmt" = json ]; then
      sed "s|\"$key\"[[:space:]]*:[[:space:]]*\"[^\"]*\"|\"$key\": \"$value\"|" "$file"
    else
      sed "s|^$key:.*\$|$key: $value|" "$file"
    fi
  elif [ "$fmt" = json ]; then
    # A new first member keeps the object valid whatever the layout of the rest.
    sed "0,/{/s|{|{\"$key\": \"$value\", |" "$file"
  else
    cat "$file"
    [ -z "$(tail -c 1 "$file")" ] || echo
    printf '%s: %s\n' "$key" "$value"
  fi
}

# unset_value FORMAT FILE: the file without the imageServiceEndpoint this script added.
unset_value() {
  if [ "$1" = json ]; then
    sed "s|\"$key\": \"$endpoint\", ||" "$2"
  else
    sed "\\|^$key: $endpoint\$|d" "$2"
  fi
}

# replace FILE: stdin becomes FILE, atomically, keeping FILE's owner and mode.
replace() {
  local tmp="$1.pullgate.tmp"
  cp -p "$1" "$tmp"
  cat >"$tmp"
  mv -f "$tmp" "$1"
}

restart_kubelet() {
  log "restarting the kubelet"
  sh -c "${PULLGATE_KUBELET_RESTART:-systemctl restart kubelet}"
}

pullgate_answers() {
  if [ -n "${PULLGATE_PROBE_CMD:-}" ]; then
    sh -c "$PULLGATE_PROBE_CMD"
  else
    "$here/cri-probe.sh" "$root$socket"
  fi
}

wait_for_pullgate() {
  local deadline=$((SECONDS + $1))
  until [ -S "$root$socket" ] && pullgate_answers; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 1
  done
}

cmd_enable() {
  local wait_s=120 config fmt current added=0
  while [ $# -gt 0 ]; do
    case "$1" in
    --wait) wait_s=$2; shift 2 ;;
    *) die 64 "unknown option $1" ;;
    esac
  done
  config=$(find_config) || die 2 "no KubeletConfiguration file found; set PULLGATE_KUBELET_CONFIG"
  [ -f "$config" ] || die 2 "the kubelet's configuration file $config does not exist"
  if kubelet_flag --image-service-endpoint >/dev/null; then
    die 4 "the kubelet runs with --image-service-endpoint, which overrides $config; remove the flag"
  fi

  fmt=$(format_of "$config")
  current=$(get_value "$fmt" "$config" "$key")
  if [ "$current" = "$endpoint" ]; then
    log "the kubelet already uses pullgate ($config)"
    return 0
  fi

  # The kubelet cannot start any container while its image service does not answer, so
  # the switch waits for a real answer rather than for the socket file alone.
  log "waiting up to ${wait_s}s for pullgate to answer on $socket"
  wait_for_pullgate "$wait_s" ||
    die 3 "pullgate does not answer on $socket; the kubelet keeps its image service"

  # Unswitched, the file is the kubelet's own setting: that is the copy to restore.
  mkdir -p "$state_dir"
  cp -p "$config" "$state_dir/kubelet-config.orig"
  [ -n "$current" ] || added=1
  set_value "$fmt" "$config" "$endpoint" | replace "$config"
  {
    printf 'config=%s\n' "${config#"$root"}"
    printf 'format=%s\nadded=%s\nprevious=%s\n' "$fmt" "$added" "$current"
    printf 'written=%s\n' "$(sha256sum <"$config" | cut -d' ' -f1)"
  } >"$state_dir/state"
  log "switched $config: $key=$endpoint (backup in $state_dir)"
  restart_kubelet
}

state_get() { sed -n "s/^$1=//p" "$state_dir/state" 2>/dev/null | head -n 1; }

cmd_disable() {
  local config fmt current added previous written
  if [ -f "$state_dir/state" ]; then
    config="$root$(state_get config)"
    added=$(state_get added)
    previous=$(state_get previous)
    written=$(state_get written)
  else
    config=$(find_config) || die 2 "no KubeletConfiguration file found; set PULLGATE_KUBELET_CONFIG"
    added=1 previous="" written=""
  fi
  [ -f "$config" ] || die 2 "the kubelet's configuration file $config does not exist"

  fmt=$(format_of "$config")
  current=$(get_value "$fmt" "$config" "$key")
  if [ "$current" != "$endpoint" ]; then
    log "the kubelet does not use pullgate ($config); nothing to restore"
    rm -f "$state_dir/state"
    return 0
  fi

  if [ -f "$state_dir/kubelet-config.orig" ] &&
    [ "$(sha256sum <"$config" | cut -d' ' -f1)" = "$written" ]; then
    replace "$config" <"$state_dir/kubelet-config.orig"
  elif [ "$added" = 1 ]; then
    # Someone changed the file since the switch: take out only what the switch put in.
    unset_value "$fmt" "$config" | replace "$config"
  else
    set_value "$fmt" "$config" "$previous" | replace "$config"
  fi
  rm -f "$state_dir/state"
  log "restored $config"
  restart_kubelet
}

cmd_status() {
  local config
  config=$(find_config) || die 2 "no KubeletConfiguration file found; set PULLGATE_KUBELET_CONFIG"
  if [ "$(get_value "$(format_of "$config")" "$config" "$key")" = "$endpoint" ]; then
    echo pullgate
  else
    echo runtime
  fi
}

cmd_runtime_endpoint() {
  local config value
  if value=$(kubelet_flag --container-runtime-endpoint); then
    printf '%s\n' "$value"
    return 0
  fi
  config=$(find_config) || return 0
  get_value "$(format_of "$config")" "$config" containerRuntimeEndpoint
}

case "${1:-}" in
enable) shift; cmd_enable "$@" ;;
disable) cmd_disable ;;
status) cmd_status ;;
runtime-endpoint) cmd_runtime_endpoint ;;
*) die 64 "usage: kubelet-switch.sh enable [--wait SECONDS] | disable | status" \
  "| runtime-endpoint" ;;
esac
