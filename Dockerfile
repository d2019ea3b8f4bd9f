# syntax=docker/dockerfile:1
# meshwarden: the policies compiled with the pinned OPA and the TypeScript built with the full toolchain in
# build stages; the runtime is the current Node LTS, non-root, with production dependencies only and no build
# tools. The default command serves the embedded default rules (policies/default/rules.yaml with the rules
# library): gRPC on :9191, admin endpoint on :9090.
#
#   docker build -t meshwarden .
#   docker run --rm -p 9191:9191 -p 9090:9090 meshwarden
#
# Every build step is `node scripts/build-image.mjs STEP`. CI runs the same steps without Docker,
# `node scripts/build-image.mjs --out DIR` (policies, build, then verify and smoke on DIR), so a broken image
# build shows up there; test/image/dockerfile.test.ts lints this file.
#
# Base images are pinned by tag. To pin by digest too (a tag can be moved, a digest cannot), append the
# digest of the multi-platform index, `docker buildx imagetools inspect node:24-bookworm-slim` prints it:
#   FROM node:24-bookworm-slim@sha256:<digest> AS build
# and keep tag and digest current with Renovate or Dependabot, which update both together.

# opa from source, at the version scripts/tools.mjs pins (the lint test checks the two are equal). The
# policies compile to wasm, so this and the next stage run on the build machine's platform.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS opa
RUN CGO_ENABLED=0 GOBIN=/opt/opa/bin go install github.com/open-policy-agent/opa@v1.22.2

# `opa test`, then the Rego compiled to bundles, which must equal the committed policies/build ones; the
# default rules file beside them in /out/policies/default.
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim AS policies
WORKDIR /src
COPY --from=opa /opt/opa/bin/opa /usr/local/bin/opa
COPY scripts/build-image.mjs scripts/build-policies.mjs scripts/tools.mjs scripts/
COPY policies/ policies/
RUN node scripts/build-image.mjs policies --opa /usr/local/bin/opa --out /out

# npm ci, tsc, then a fresh production-only npm ci into /out (package.json, node_modules, dist/src).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY scripts/build-image.mjs scripts/build-policies.mjs scripts/tools.mjs scripts/
COPY src/ src/
RUN --mount=type=cache,target=/root/.npm,sharing=locked node scripts/build-image.mjs build --out /out

# The image: the last stage, the default target.
FROM node:24-bookworm-slim
# Node alone runs the server: remove the package managers the node image ships (npm, npx, corepack, yarn).
# This takes them off the container's filesystem and PATH (and out of image scanners' findings); the base
# layer underneath keeps its size.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the server's user.
COPY --from=build /out/ ./
COPY --from=policies /out/policies/ policies/
# The pinned opa on PATH: Rego-source bundles from a bundle server (what opa-envoy-plugin users ship) are
# compiled to wasm with it when they are loaded (src/management/rego-compile.ts).
COPY --from=opa /opt/opa/bin/opa /usr/local/bin/opa
# The node image's unprivileged user, uid and gid 1000. Kubernetes' runAsNonRoot cannot check a user name:
# pods that set it also set runAsUser: 1000, as the istio/ manifests do.
USER node
# The finished /app checked as that user: the runtime layout, then the server started, /readyz 200, SIGTERM.
RUN --mount=type=bind,from=build,source=/src,target=/src node /src/scripts/build-image.mjs verify smoke --out /app
# gRPC ext_authz (--grpc-addr) and the admin endpoint with /healthz, /readyz, /metrics (--admin-addr).
EXPOSE 9191
EXPOSE 9090
# node is PID 1: meshwarden handles SIGTERM and SIGINT itself (drain, then exit 0).
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["serve"]
