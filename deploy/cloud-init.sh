#!/bin/bash
# OKE node pool initialization script for pullgate (Node pool > Advanced options >
# Initialization script, or node_metadata.user_data in Terraform).
#
# It runs OKE's own node setup as usual and registers the node with the taint
# pullgate/not-enforcing:NoSchedule. The pullgate DaemonSet tolerates the taint, installs
# pullgate on the node, switches the kubelet to it and then lifts the taint, so no workload
# pod lands on a new node before that node verifies images. The kubelet is deliberately not
# pointed at pullgate here: pullgate is not installed yet at this point of the boot, and a
# kubelet whose image service does not answer cannot start any container at all.
#
# If your node pool already passes --kubelet-extra-args, add the taint to that list.
set -euo pipefail

oke_init=/var/run/oke-init.sh
metadata_url=http://169.254.169.254/opc/v2/instance/metadata/oke_init_script

curl -fsSL -H "Authorization: Bearer Oracle" "$metadata_url" | base64 --decode >"$oke_init"
bash "$oke_init" --kubelet-extra-args "--register-with-taints=pullgate/not-enforcing=true:NoSchedule"
