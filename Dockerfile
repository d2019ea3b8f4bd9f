# syntax=docker/dockerfile:1
# meshwarden: build with the full toolchain, run on a small non-root Node LTS image with production
# dependencies only. The default command serves the embedded default policy on :9191.

# Compile the Rego policies with the pinned OPA (the same version scripts/tools.mjs pins).
FROM golang:1.26-bookworm AS policies
WORKDIR /src
RUN go install github.com/open-policy-agent/opa@v1.22.2
COPY policies/ policies/
RUN opa test policies \
 && opa build -t wasm -e envoy/authz/allow -o policies/build/default.tar.gz policies/default/authz.rego

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src/ src/
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
COPY --from=policies /src/policies/build/ policies/build/
USER node
EXPOSE 9191
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["serve"]
