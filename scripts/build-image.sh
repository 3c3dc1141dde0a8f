#!/usr/bin/env bash
# Builds pullgate's image from the Dockerfile on this machine alone: no daemon, no container
# registry, nothing in the system's container storage. (Run as root, buildah still records
# layer digests in its blob-info cache, /var/lib/containers/cache; it has no flag to move it.)
#
#   scripts/build-image.sh WORKDIR
#
# WORKDIR is an empty directory the caller owns and removes afterwards (storage root, run
# root and scratch files all live in it). The Dockerfile's base image (NODE_IMAGE) is
# assembled here from a minimal Debian bookworm and this machine's own Node 20, committed
# under the Dockerfile's base name, and the build runs with --pull=never against it. The
# build stages still run `npm ci`, so the npm registry must be reachable.
#
# Prints the built image's id on stdout; everything else goes to stderr. The image stays in
# WORKDIR/storage, tagged localhost/pullgate:build; inspect it with
#   buildah --root WORKDIR/storage --runroot WORKDIR/run --storage-driver vfs ...
set -euo pipefail

say() { echo "build-image: $*" >&2; }
fail() { say "$*"; exit 1; }

(($# == 1)) || fail "usage: scripts/build-image.sh WORKDIR"
[[ $(id -u) -eq 0 ]] || fail "needs root (debootstrap and buildah's chroot isolation)"
for command in buildah debootstrap node npm; do
  command -v "$command" >/dev/null 2>&1 ||
    fail "$command is missing; run scripts/install-system-deps.sh as root"
done
[[ -d $1 ]] || fail "$1 is not a directory"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(cd "$1" && pwd)
mirror=${PULLGATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Debian and OCI image configs name the two architectures OKE runs on alike.
arch=$(dpkg --print-architecture)
case $arch in
  amd64 | arm64) ;;
  *) fail "unsupported architecture $arch (pullgate images are amd64 and arm64)" ;;
esac
node_bin=$(command -v node)
[[ $("$node_bin" -p 'process.versions.node.split(".")[0]') == 20 ]] ||
  fail "the node on PATH is $("$node_bin" --version); the image is built on Node 20"
# npm's package directory: npm on PATH is a link to its bin/npm-cli.js.
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
[[ -f $npm_dir/package.json ]] || fail "cannot find npm's package directory ($npm_dir)"

# A storage.conf of our own, so no system or user configuration (another driver, mount
# options, additional image stores) reaches this storage.
cat >"$work/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
export CONTAINERS_STORAGE_CONF=$work/storage.conf
export BUILDAH_ISOLATION=chroot
export BUILDAH_LAYERS=false
store=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)

# debootstrap mounts /proc and /sys inside the target while it configures packages; if it
# stops half way they would stay mounted under WORKDIR, where the caller's rm -rf would
# follow them. Unmount whatever is left under WORKDIR, deepest first, on every exit.
unmount_leftovers() {
  local point
  awk -v root="$work/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while read -r point; do umount -l "$point" || true; done
}
trap unmount_leftovers EXIT

# The Dockerfile's default base, spelled out in full so that no short-name resolution
# (registries.conf, aliases, prompts) is involved in finding it.
base=$(sed -n 's/^ARG NODE_IMAGE=\(.*\)$/\1/p' "$repo/Dockerfile" | head -n 1)
[[ -n $base ]] || fail "the Dockerfile has no ARG NODE_IMAGE=<default>"
first=${base%%/*}
if [[ $base != */* ]]; then
  base=docker.io/library/$base
elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then
  base=docker.io/$base
fi

say "assembling $base for linux/$arch from Debian bookworm ($mirror)"
container=$(buildah "${store[@]}" from --quiet scratch)
rootfs=$(buildah "${store[@]}" mount "$container")
log=$work/debootstrap.log
debootstrap --variant=minbase --arch "$arch" bookworm "$rootfs" "$mirror" >"$log" 2>&1 ||
  fail "debootstrap failed; the end of its log:$(printf '\n'; tail -n 20 "$log")"
# What a slim base leaves out: documentation, locales, package lists and caches.
rm -rf "$rootfs"/usr/share/{doc,man,info,locale}/* "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/*

# Node where the official node images keep it, with npm beside it. Node's own shared
# libraries (libstdc++, libgcc) are part of minbase already; checked below by running it.
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# This machine's CA bundle, for npm's TLS to the registry (minbase has no ca-certificates).
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
chroot "$rootfs" /usr/local/bin/node --version >/dev/null ||
  fail "the copied node does not run inside the Debian root"

buildah "${store[@]}" umount "$container" >/dev/null
buildah "${store[@]}" config --os linux --arch "$arch" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  --cmd node "$container"
buildah "${store[@]}" commit --quiet --rm "$container" "$base" >/dev/null

say "building $repo/Dockerfile for linux/$arch"
# --jobs 2: the deps and build stages do not depend on each other.
buildah "${store[@]}" bud --isolation chroot --pull=never --layers=false --jobs 2 \
  --platform "linux/$arch" --build-arg "NODE_IMAGE=$base" \
  --iidfile "$work/image-id" -t localhost/pullgate:build -f "$repo/Dockerfile" "$repo" >&2
id=$(cat "$work/image-id")
echo "${id#sha256:}"
