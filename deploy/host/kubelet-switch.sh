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
    # A link is taken as found: its target is a host path, resolved under the root later.
    if [ -f "$root$path" ] || [ -L "$root$path" ]; then
      printf '%s\n' "$root$path"
      return 0
    fi
  done
  return 1
}

# The kubelet's configuration file, with a symlink followed to the file it names, so that an
# edit replaces the target and the link survives. Link targets resolve inside the host root.
config_file() {
  local path target hops=0
  path=$(find_config) || return 1
  while [ -L "$path" ] && ((hops < 40)); do
    target=$(readlink -- "$path")
    case "$target" in
    /*) path="$root$target" ;;
    *) path="$(dirname -- "$path")/$target" ;;
    esac
    hops=$((hops + 1))
  done
  printf '%s\n' "$path"
}

# JSON or YAML, by the first character that is not blank: YAML files may hold JSON.
format_of() {
  awk 'match($0, /[^ \t\r]/) { found = 1; print (substr($0, RSTART, 1) == "{" ? "json" : "yaml")
       exit }
       END { if (!found) print "yaml" }' "$1"
}

ws='[[:space:]]*'

# The file as one line: JSON strings hold no raw line breaks, so members can be matched
# whatever the pretty-printer did with the white space between their tokens.
json_flat() { tr -d '\r' <"$1" | tr '\n' ' '; }

# yaml_scan FILE KEY MODE [VALUE]: one pass over the top-level KEY lines of a YAML document.
#   get    print KEY's value without quotes or trailing comment (first occurrence)
#   has    exit 0 when KEY is present
#   set    print the file with every KEY set to VALUE, appended when absent
#   unset  print the file without KEY
# Lines after the value's line that are indented belong to the value and go with it; the
# document ends at a "..." line, and a new key goes before that line.
yaml_scan() {
  awk -v key="$2" -v mode="$3" -v value="${4:-}" -v sq="'" '
    BEGIN { keyre = "^[\"" sq "]?" key "[\"" sq "]?[ \t]*:"; found = 0; ended = 0
            edit = mode == "set" || mode == "unset" }
    NR == 1 { eol = $0 ~ /\r$/ ? "\r" : "" }
    {
      cr = $0 ~ /\r$/ ? "\r" : ""
      line = $0
      sub(/\r$/, "", line)
    }
    ended { if (edit) print; next }
    line ~ /^\.\.\.([ \t]|$)/ {
      ended = 1
      if (mode == "set" && !found) { print key ": " value eol; found = 1 }
      if (edit) print
      next
    }
    skipping && line ~ /^[ \t]/ { next }
    { skipping = 0 }
    line ~ keyre {
      match(line, keyre)
      prefix = substr(line, 1, RLENGTH)
      rest = substr(line, RLENGTH + 1)
      sub(/^[ \t]+/, "", rest)
      q = substr(rest, 1, 1)
      comment = ""
      if (q == "\"" || q == sq) {
        rest = substr(rest, 2)
        end = index(rest, q)
        val = end ? substr(rest, 1, end - 1) : rest
        if (end) comment = substr(rest, end + 1)
      } else {
        val = rest
        if (match(val, /(^|[ \t]+)#/)) {
          comment = substr(val, RSTART)
          val = substr(val, 1, RSTART - 1)
        }
        sub(/[ \t]+$/, "", val)
      }
      if (mode == "get") { if (!found) print val; found = 1; next }
      found = 1
      skipping = 1
      if (mode == "set") print prefix " " value comment cr
      next
    }
    edit { print }
    END {
      if (mode == "has") exit found ? 0 : 1
      if (mode == "set" && !found) print key ": " value eol
    }' "$1"
}

# get_value FORMAT FILE KEY: the key's top-level string value, empty when absent.
get_value() {
  if [ "$1" = json ]; then
    json_flat "$2" | grep -o "\"$3\"$ws:$ws\"[^\"]*\"" | head -n 1 |
      sed -e 's/^.*:[[:space:]]*"\(.*\)"$/\1/' -e 's|\\/|/|g' || true
  else
    yaml_scan "$2" "$3" get || true
  fi
}

has_key() {
  if [ "$1" = json ]; then
    json_flat "$2" | grep -q "\"$key\"$ws:"
  else
    yaml_scan "$2" "$key" has
  fi
}

# uses_pullgate FORMAT FILE: whether the file names pullgate's socket as the image service,
# in any spelling: quoted or not, escaped slashes, CRLF, the value on the next line, or a
# second copy of the key further down.
uses_pullgate() {
  local flat
  [ "$(get_value "$1" "$2" "$key")" != "$endpoint" ] || return 0
  # Without blanks, quotes and comment lines, every spelling reads the same.
  flat=$(grep -v '^[[:space:]]*#' "$2" | tr -d ' \t\r\n"'\' | sed 's|\\/|/|g' || true)
  grep -qF -e "$key:$endpoint" -e "$key:$socket" <<<"$flat"
}

# set_value FORMAT FILE VALUE: the file with imageServiceEndpoint set, on stdout.
set_value() {
  local fmt=$1 file=$2 value=$3
  if [ "$fmt" = yaml ]; then
    [ -n "$value" ] || value='""'
    yaml_scan "$file" "$key" set "$value"
  elif has_key json "$file"; then
    # Only the value changes: the member keeps its spacing and place.
    sed -z -e "s|\(\"$key\"$ws:$ws\)\"[^\"]*\"|\1\"$value\"|g" \
      -e "s|\(\"$key\"$ws:$ws\)null|\1\"$value\"|g" "$file"
  else
    # A new first member keeps the object valid whatever the layout of the rest.
    sed -z -e "s|^\($ws\){\($ws\)}|\1{\"$key\": \"$value\"\2}|" -e t \
      -e "s|^\($ws\){|\1{\"$key\": \"$value\", |" "$file"
  fi
}

# unset_value FORMAT FILE: the file without imageServiceEndpoint.
unset_value() {
  local member="\"$key\"$ws:$ws\"[^\"]*\""
  if [ "$1" = json ]; then
    # A member with the comma after it, else the last one with the comma before it, else
    # the only one; looped so that no second copy survives.
    sed -z -e ":a" -e "s|$member$ws,$ws||" -e "ta" -e "s|$ws,$ws$member||" -e "ta" \
      -e "s|$member||" -e "ta" "$2"
  else
    yaml_scan "$2" "$key" unset
  fi
}

# candidate FILE: stdin becomes a new file beside FILE (so a rename replaces FILE
# atomically) with FILE's owner and mode; prints its path.
candidate() {
  local tmp="$1.pullgate.tmp"
  cp -p "$1" "$tmp"
  cat >"$tmp"
  printf '%s\n' "$tmp"
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
  local wait_s=120 config fmt current added=0 tmp
  while [ $# -gt 0 ]; do
    case "$1" in
    --wait) wait_s=$2; shift 2 ;;
    *) die 64 "unknown option $1" ;;
    esac
  done
  config=$(config_file) || die 2 "no KubeletConfiguration file found; set PULLGATE_KUBELET_CONFIG"
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
  # A key that was there, even empty, is given back rather than taken out.
  has_key "$fmt" "$config" || added=1
  tmp=$(set_value "$fmt" "$config" "$endpoint" | candidate "$config")
  # The kubelet must read exactly pullgate's endpoint from what is written, or nothing is.
  if [ "$(format_of "$tmp")" != "$fmt" ] ||
    [ "$(get_value "$fmt" "$tmp" "$key")" != "$endpoint" ]; then
    rm -f "$tmp"
    die 5 "could not set $key in $config ($fmt); the file is unchanged"
  fi
  mv -f "$tmp" "$config"
  if [ "$(get_value "$fmt" "$config" "$key")" != "$endpoint" ]; then
    replace "$config" <"$state_dir/kubelet-config.orig"
    die 5 "$config did not keep $key=$endpoint; restored the kubelet's own file"
  fi
  {
    printf 'config=%s\n' "${config#"$root"}"
    printf 'format=%s\nadded=%s\nprevious=%s\n' "$fmt" "$added" "$current"
    printf 'written=%s\n' "$(sha256sum <"$config" | cut -d' ' -f1)"
  } >"$state_dir/state"
  log "switched $config: $key=$endpoint (backup in $state_dir)"
  restart_kubelet
}

# replace FILE: stdin becomes FILE, atomically, keeping FILE's owner and mode.
replace() {
  local tmp
  tmp=$(candidate "$1")
  mv -f "$tmp" "$1"
}

state_get() { sed -n "s/^$1=//p" "$state_dir/state" 2>/dev/null | head -n 1; }

cmd_disable() {
  local config fmt added previous written tmp
  if [ -f "$state_dir/state" ]; then
    config="$root$(state_get config)"
    added=$(state_get added)
    previous=$(state_get previous)
    written=$(state_get written)
  else
    config=$(config_file) || die 2 "no KubeletConfiguration file found; set PULLGATE_KUBELET_CONFIG"
    added=1 previous="" written=""
  fi
  [ -f "$config" ] || die 2 "the kubelet's configuration file $config does not exist"

  fmt=$(format_of "$config")
  if ! uses_pullgate "$fmt" "$config"; then
    log "the kubelet does not use pullgate ($config); nothing to restore"
    rm -f "$state_dir/state"
    return 0
  fi

  if [ -f "$state_dir/kubelet-config.orig" ] &&
    [ "$(sha256sum <"$config" | cut -d' ' -f1)" = "$written" ]; then
    tmp=$(candidate "$config" <"$state_dir/kubelet-config.orig")
  elif [ "$added" = 1 ]; then
    # Someone changed the file since the switch: take out only what the switch put in.
    tmp=$(unset_value "$fmt" "$config" | candidate "$config")
  else
    tmp=$(set_value "$fmt" "$config" "$previous" | candidate "$config")
  fi
  # Callers stop pullgate's socket once this succeeds: it must not succeed while the
  # kubelet would still pull through that socket.
  if uses_pullgate "$(format_of "$tmp")" "$tmp"; then
    rm -f "$tmp"
    die 5 "could not take pullgate's socket out of $key in $config; the file is unchanged" \
      "and the kubelet still uses pullgate: edit the file by hand, then run disable again"
  fi
  mv -f "$tmp" "$config"
  if uses_pullgate "$(format_of "$config")" "$config"; then
    die 5 "$config still names pullgate's socket as $key; the kubelet still uses pullgate"
  fi
  rm -f "$state_dir/state"
  log "restored $config"
  restart_kubelet
}

cmd_status() {
  local config
  config=$(config_file) || die 2 "no KubeletConfiguration file found; set PULLGATE_KUBELET_CONFIG"
  if uses_pullgate "$(format_of "$config")" "$config"; then
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
  config=$(config_file) || return 0
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
