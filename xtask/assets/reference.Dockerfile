# REFERENCE for `cargo xtask bench`, not used to ship anything: the common hand-written
# way to containerise one app of a pnpm monorepo. One build stage copies the whole
# context, installs every dependency, builds, then `pnpm deploy`s the app; the final
# stage copies the deployed node_modules, dist and package.json.
# Parameters: --build-arg API=<package name> API_DIR=<its directory> PNPM_VERSION=<x.y.z>
ARG NODE_IMAGE=node:22-alpine

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION=10.34.9
ARG API=@cipherbox/api
ARG API_DIR=apps/api
RUN corepack enable && corepack prepare pnpm@${PNPM_VERSION} --activate
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile
RUN pnpm --filter "${API}..." run build
# `deploy` copies the package's files (dist included unless `files` leaves it out); the copy
# into /deploy/dist/ makes sure the build output is there, once
RUN pnpm --filter "${API}" deploy --prod --legacy /deploy \
 && mkdir -p /deploy/dist && cp -r /app/${API_DIR}/dist/. /deploy/dist/

FROM ${NODE_IMAGE}
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=build /deploy/node_modules ./node_modules
COPY --from=build /deploy/dist ./dist
COPY --from=build /deploy/package.json ./package.json
USER node
EXPOSE 3000
CMD ["node", "dist/main.js"]
