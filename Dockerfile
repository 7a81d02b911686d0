# syntax=docker/dockerfile:1
# One image definition for every Surge app. Build context: the repository root (.dockerignore keeps
# it to apps/*/dist). Build the bundle first, then the image:
#
#   npx nx build worker-job && npx nx image worker-job          # Docker if a daemon answers, else buildah
#   docker build --build-arg APP=worker-job -t surge/worker-job:dev .
#   az acr build -r <acr> -t surge/worker-job:<tag> --build-arg APP=worker-job -f Dockerfile .
#
# apps/<app>/dist is what scripts/build-app.ts writes: main.js, chunks/, and a package.json listing
# only the npm packages the bundle imports. That is all the image takes from the repository.
#
# Base: Node 24 LTS on Debian bookworm-slim, pinned once here by version and digest (bump both
# together; verify with `docker buildx imagetools inspect node:24.21.0-bookworm-slim`). Where no
# registry can be reached, scripts/standin-base.ts builds a local stand-in with the same layout and
# `--build-arg NODE_IMAGE=<its ref>` selects it (`npx nx image <app> -- --standin`).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553
# producer | worker-job | worker-deployment | exporter
ARG APP=unset

# Stage 1: production dependencies only, installed from the bundle's package.json.
FROM ${NODE_IMAGE} AS deps
ARG APP
RUN case "$APP" in producer|worker-job|worker-deployment|exporter) ;; \
      *) echo "build arg APP: expected producer, worker-job, worker-deployment or exporter, got '$APP'" >&2; exit 1 ;; esac
WORKDIR /app
COPY apps/${APP}/dist/package.json ./
# --ignore-scripts: no dependency needs an install script, and none gets to run one. Then remove
# what Node never loads from node_modules: source maps, TypeScript sources and declarations, docs
# (licence files stay), and the browser/react-native/workerd builds of packages that ship one per
# platform. That was two thirds of node_modules, in the layer every node pulls.
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --no-package-lock \
 && npm cache clean --force 2>/dev/null \
 && find node_modules -type f \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.tsbuildinfo' \
      -o \( -iname '*.md' ! -iname 'licen[cs]e*' \) \) -delete \
 && find node_modules -type d \( -path '*/dist/browser' -o -path '*/dist/react-native' -o -path '*/dist/workerd' \) -prune -exec rm -rf {} +

# Stage 2: runtime. No npm step, no build tools, no source: the bundle and its node_modules,
# owned by root so the app cannot change its own code.
FROM ${NODE_IMAGE} AS runtime
ARG APP
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY apps/${APP}/dist/ ./
# the base's "node" user, numeric so the kubelet can verify runAsNonRoot
USER 1000:1000
# exec form: node is PID 1 and receives SIGTERM itself (npm or a shell would not forward it)
CMD ["node", "main.js"]

# One final stage per app: EXPOSE only where the app serves HTTP (the ports the manifests use).
FROM runtime AS producer
EXPOSE 8080
FROM runtime AS worker-deployment
EXPOSE 8080
FROM runtime AS exporter
EXPOSE 9113
FROM runtime AS worker-job

FROM ${APP}
