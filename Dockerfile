# syntax=docker/dockerfile:1
#
# pullgate image: compiled JS, production dependencies and Node, nothing else of the build.
# Build for both OKE architectures (Ampere arm64 and x86):
#   docker buildx build --platform linux/amd64,linux/arm64 -t <region>.ocir.io/<ns>/pullgate:<v> .
# Every dependency is plain JavaScript (no native addons), so the build stages run once on
# the build machine's own platform and only the runtime stage is per target platform.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- deps: production dependencies only, exactly as locked ---------------------------------
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- build: the TypeScript compiler and its output -----------------------------------------
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY proto ./proto
# Only src/ and proto/ are in the build context, so dist holds the product alone.
RUN npm run build

# --- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
COPY package.json ./
COPY deploy/host ./deploy/host
COPY deploy/pod ./deploy/pod
COPY deploy/untaint-node.js ./deploy/untaint-node.js
COPY deploy/image/pullgate ./bin/pullgate
# The release id names this build's files on a node's disk (/opt/pullgate/releases/<id>);
# it changes whenever any file the node would run changes.
RUN chmod 0755 bin/pullgate deploy/host/*.sh deploy/pod/*.sh \
 && find dist node_modules proto deploy bin package.json -type f -print0 | sort -z \
    | xargs -0 sha256sum | sha256sum | cut -c1-16 > RELEASE
# Nothing run from this image needs root except the installer, which the DaemonSet runs
# privileged on purpose; pullgate itself runs on the host (see docs/deployment-design.md).
USER 65532:65532
ENTRYPOINT ["/app/bin/pullgate"]
CMD ["serve"]
