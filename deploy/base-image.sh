#!/usr/bin/env bash
# A Debian bookworm base image made from Debian's own packages, for machines that reach a Debian mirror but no
# container registry: debootstrap (minbase) into a folder, then `docker import`. The studio, PostgreSQL and Redis
# images build FROM it (deploy/docker-compose.debian.yml). The machine's CA certificates go in too, so that pip
# and apt inside the images trust the same TLS endpoints the machine does.
#
#   deploy/base-image.sh [NAME]        # default t2i-debian:bookworm; nothing is done if NAME exists
#
# DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR override the mirrors read from the machine's apt sources;
# CA_BUNDLE names the certificates to trust (default: pip's `cert`, else the system bundle).
set -euo pipefail
name="${1:-t2i-debian:bookworm}"
if docker image inspect "$name" >/dev/null 2>&1; then
  echo "base image $name exists"
  exit 0
fi

# The first Debian archive and security archive the machine's apt sources name (deb822 or one-line format).
apt_uri() {
  local suite_pattern="$1"
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    awk -v pat="$suite_pattern" '
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i ~ pat && uri ~ /debian/) { print uri; exit } }
      /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^(http|https|file):/) { u = $i; s = $(i + 1); break }
                if (s ~ pat && u ~ /debian/) { print u; exit } }'
}
mirror="${DEBIAN_MIRROR:-$(apt_uri '^bookworm$')}"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-$(apt_uri '^bookworm-security$')}"
security="${security:-http://deb.debian.org/debian-security}"
ca_bundle="${CA_BUNDLE:-${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}}"
ca_bundle="${ca_bundle:-/etc/ssl/certs/ca-certificates.crt}"

command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror"

cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
# images stay small: no recommended packages, no documentation, no apt caches left behind
cat >"$rootfs/etc/apt/apt.conf.d/90container" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
EOF
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90container" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
if [ -f "$ca_bundle" ]; then
  cp "$ca_bundle" "$rootfs/usr/local/share/ca-certificates/machine-bundle.crt"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
fi
rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$name" >/dev/null
echo "base image $name: $(docker image inspect -f '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1 / 1e6}')"
