#!/bin/bash
# Succeeds when the CRI ImageService on a unix socket answers a real call with status OK.
#
#   cri-probe.sh SOCKET
#
# It sends ImageFsInfo (an empty request: a gRPC frame of five zero bytes) over HTTP/2
# without TLS, as the kubelet does, and looks for grpc-status 0. Through pullgate the call
# is forwarded, so success means pullgate and the runtime behind it both answer.
set -euo pipefail

socket="${1:?usage: cri-probe.sh SOCKET}"
[ -S "$socket" ] || exit 1

headers=$(printf '\0\0\0\0\0' | curl --silent --max-time 5 --http2-prior-knowledge \
  --unix-socket "$socket" \
  --header 'content-type: application/grpc' --header 'te: trailers' \
  --data-binary @- --dump-header - --output /dev/null \
  http://localhost/runtime.v1.ImageService/ImageFsInfo) || exit 1

# grpc-status arrives in the trailers (curl prints them with the headers), or in the headers
# of a trailers-only answer; either way one line says it.
tr -d '\r' <<<"$headers" | grep -qi '^grpc-status: *0$'
