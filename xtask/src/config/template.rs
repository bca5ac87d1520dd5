//! The text `config init` writes (before discovery fills in the monorepo's own names).
//!
//! Size: one documented string, every key with its default and its meaning.

/// The text `config init` writes: every key, its default, and what it means.
pub const TEMPLATE: &str = r#"# Settings for `cargo xtask gen` (CipherBox staging infra).
# Every key is optional: a missing key takes the default shown here.
# Edit by hand or with `cargo xtask config set KEY VALUE` (comments are kept).

[project]
registry = "ghcr.io"   # where images are pushed
owner = "OWNER"        # images are <registry>/<owner>/<name>
tag = "latest"         # default image tag in compose: ${TAG:-<tag>}
# name = "cipherbox-staging"   # compose project (default: <root package name>-staging)
services = ["postgres", "redis", "ipfs", "tee-worker"]   # besides api and caddy

[api]
package = "@cipherbox/api"   # the API's name in the pnpm workspace
# path = "apps/api"          # or its directory (wins over package)
# image = "cipherbox-api"    # image name; build-image tags <image>:<tag> too (default: the
                             # package's name, its scope joined: @cipherbox/api → cipherbox-api)
port = 3000                  # port the API listens on in its container
entry = "dist/main.js"       # built entry point, relative to the API's directory
# keep_build_files = ["*.map"]   # keep source maps (or "*.d.ts", "*.tsbuildinfo") in the image
# runtime_files = ["packages/db/prisma/migrations"]   # generated or runtime files the image
                             # carries from the build (relative to the root; see [api.generate])

# The API's env contract is read from its .env.example (.env.sample, .env.template);
# add keys, give staging values, or mark keys secret here (see README, "The app's contract").
# [api.env]
# IPFS_PROVIDER = "pinata"                       # a staging value
# SESSION_KEY_ID = { secret = false }            # not a secret despite its name
# SENTRY_DSN = { optional = true, comment = "error reporting" }

# [api.migrate]              # a one-shot `migrate` service before the API starts
# command = ["node", "dist/run-migrations.js"]

# [api.generate]             # code generators: run after the install, before the first build
# "packages/db" = "db:generate"   # a package's directory = its script, or a command run
                                  # with `pnpm exec` there: ["prisma", "generate"]

[api.health]
path = "/health"             # where the API answers; smoke: any HTTP answer = it listens
status = 200                 # the status that means healthy (the rehearsal's deep check)
# [api.health.body]          # the rehearsal's body checks: JSON pointer (RFC 6901) = the value
# "/status" = "ok"           # expected there (string, number, true/false); none configured:
# "/info/database/status" = "up"   # NestJS terminus's shape is checked when the body has it

[node]
image = "node:22-alpine"     # base image of every stage (ARG NODE_IMAGE)
pnpm = "10.34.9"             # used only when package.json has no packageManager
build_runner = "auto"        # how build scripts run: "node" (`node --run build`, no pnpm
                             # start-up), "pnpm" (`pnpm run build`: npm_* variables, pre/post
                             # scripts) or "auto" (node where that runs the script as pnpm would)

[tee_worker]
# image = "cipherbox-tee-worker"   # default: <the API package's scope, else the root
                                   # package's name>-tee-worker
port = 3001

[images]                     # third-party images (pin a tag, never latest)
postgres = "postgres:16-alpine"
redis = "redis:7-alpine"
ipfs = "ipfs/kubo:v0.34.0"
caddy = "caddy:2-alpine"

[caddy]
domains = []                 # site addresses; empty serves any host on :443
cert_file = "origin.pem"     # origin certificate, in infra/certs/
key_file = "origin-key.pem"

[ports]                      # host ports; all but http, https, ipfs_swarm bind 127.0.0.1
api = 3000
tee_worker = 3001
postgres = 5432
redis = 6379
ipfs_api = 5001
ipfs_gateway = 8080
ipfs_swarm = 4001
http = 80
https = 443

[logs]                       # every service's logs, rotated (one x-logging anchor in compose)
driver = "json-file"         # "json-file" or "local"
max_size = "10m"             # rotate at this size (Docker units: k, m, g)
max_file = 3                 # rotated files kept per service

[memory]                     # memory limit per service (deploy.resources.limits.memory)
api = "512M"
postgres = "512M"
redis = "256M"
ipfs = "2G"
tee_worker = "256M"
caddy = "256M"

[edge]                       # what Caddy does in front of the API
hsts_max_age = 31536000      # Strict-Transport-Security max-age, seconds (0: tell browsers to forget)
max_body = "100MB"           # largest request body (uploads): larger gets 413 from Caddy
trusted_proxies = []         # CIDRs of a CDN in front, e.g. Cloudflare's published ranges
                             # ("173.245.48.0/20", ...); empty: the peer address is the client
client_ip_header = ""        # the real client IP header those proxies send, e.g. "CF-Connecting-IP"

[ci]                         # the generated .github/workflows/staging-infra.yml
cache = "registry"           # build cache: "registry" (<registry>/<owner>/<image>:buildcache,
                             # works from a run: step after docker login), "gha" (GitHub's
                             # cache; the workflow exposes the Actions runtime to the step)
                             # or "none"
deploy = true                # a deploy job (`cargo xtask deploy`, environment staging;
                             # secrets STAGING_SSH_HOST, _SSH_KEY, _SSH_KNOWN_HOSTS, _ENV_FILE)

[image]                      # the API image's size budget (build-image, verify's image stage)
budget = "500 MB"            # over it: a warning naming the biggest layer group and its fix
budget_fails = false         # true: over budget fails build-image and verify (--strict-size)
# budget_dependencies = "300 MB"   # a group's own limit: budget_base, budget_dependencies,
                                   # budget_app, budget_generated, budget_other

[swarm]                      # infra/docker-stack.staging.yml (`cargo xtask deploy --swarm`)
api_replicas = 2             # tasks of the API service, rolled start-first one at a time

# The workflow's actions, pinned by full commit hash ("<sha> # <tag>"); the defaults are
# built in (`cargo xtask config get actions.checkout`). Update one with
# `cargo xtask config set actions.checkout "<sha> # <tag>"`.
# [actions]
# checkout = "08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"

# A static web app (an SPA) Caddy serves on its own domain; no [web], no web site.
# [web]
# package = "@acme/web"               # its name in the pnpm workspace (required)
# script = "build"                    # the package.json script that builds it
# output = "dist"                     # what the script writes, relative to the package
# domain = "app.staging.example.com"  # its site (required); the API keeps caddy.domains
# assets = "assets"                   # under output: content-hashed files, cached a year

# A rule can be waived only with a reason; waivers are listed in every verify output.
# [[waiver]]
# rule = "compose/port-loopback"
# file = "infra/docker-compose.staging.yml"   # optional
# reason = "why this is fine here"
"#;
