#!/bin/bash
# The uninstall DaemonSet's step (privileged init container, host PID namespace): runs
# pullgate-host.sh uninstall on the host from a copy, since uninstall deletes the release.
set -euo pipefail

copy=/opt/pullgate/.uninstall
mkdir -p "/host$copy"
cp /app/deploy/host/*.sh "/host$copy/"
nsenter --target 1 --mount --uts --ipc --net --pid -- "$copy/pullgate-host.sh" uninstall
