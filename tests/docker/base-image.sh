#!/usr/bin/env bash
# Makes the debian:bookworm-slim image docker/Dockerfile starts from, for an
# engine that cannot pull it: debootstrap --variant=minbase bookworm from the
# mirror apt uses on this machine, trimmed the way the official slim image is
# (no docs, man pages or locales, apt caches off), then imported under that tag.
#
#   tests/docker/base-image.sh ENGINE CACHE_DIR
#
# ENGINE is the client to import with (/usr/bin/docker or /usr/bin/podman).
# The root file system is kept as CACHE_DIR/debian-bookworm-slim-DATE.tar and
# reused while younger than BASE_MAX_DAYS (default 7) days; the imported
# image's comment names that date, so a current import is not redone. A
# debian:bookworm-slim that this script did not make (a real one, pulled
# from a registry) is left alone and used as it is. Needs root.
set -euo pipefail

engine=${1:?usage: base-image.sh ENGINE CACHE_DIR}
cache=${2:?usage: base-image.sh ENGINE CACHE_DIR}
max_days=${BASE_MAX_DAYS:-7}
tag=debian:bookworm-slim
marker="otpgate-test-base debootstrap"

say() { echo "base-image: $*"; }

# What the image says about itself: our marker and date, or anything else.
current=$("$engine" history --no-trunc --format '{{.Comment}}' "$tag" 2>/dev/null | head -n 1 || true)
if "$engine" image inspect "$tag" >/dev/null 2>&1 && [[ "$current" != "$marker"* ]]; then
    say "$tag is already there and was not made here: using it"
    exit 0
fi

# The newest cached root file system young enough to reuse.
mkdir -p "$cache"
tarball=$(find "$cache" -maxdepth 1 -name 'debian-bookworm-slim-*.tar' -mtime "-$max_days" \
    -printf '%f\n' | sort | tail -n 1)
if [ -n "$tarball" ]; then
    tarball="$cache/$tarball"
    say "reusing $(basename "$tarball")"
else
    command -v debootstrap >/dev/null 2>&1 || {
        say "debootstrap is missing: apt-get install debootstrap" >&2
        exit 1
    }
    # The mirrors apt uses here (one-line and deb822 sources): the first
    # URI that serves bookworm, and the first that serves bookworm-security.
    sources() {
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++;
                               if ($2 ~ /^\[/) i++; print $i, $(i + 1) }'
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
            awk 'tolower($1) == "uris:" { split($0, a, " "); uri = a[2] }
                 tolower($1) == "suites:" { for (i = 2; i <= NF; i++) print uri, $i }
                 NF == 0 { uri = "" }'
    }
    mirror=$(sources | awk '$2 == "bookworm" { print $1; exit }')
    security=$(sources | awk '$2 == "bookworm-security" { print $1; exit }')
    mirror=${mirror:-http://deb.debian.org/debian}
    security=${security:-http://deb.debian.org/debian-security}
    date=$(date -u +%Y%m%d)
    root=$(mktemp -d "$cache/root.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    say "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -n 20 "$cache/debootstrap.log" >&2
        exit 1
    }

    # The slim image's rules, kept in the image so later installs follow them.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
# The "slim" Debian base: files containers seldom need are not installed.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
CFG
    echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    printf 'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
        >"$root/etc/apt/apt.conf.d/docker-clean"
    echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' \
        >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    # What the rules above would have kept out, and what a build leaves.
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/* \
        "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
        "$root"/var/cache/ldconfig/aux-cache "$root"/var/log/* "$root"/etc/resolv.conf \
        "$root"/etc/hostname "$root"/etc/hosts "$root"/dev/* "$root"/proc/* "$root"/sys/* \
        "$root"/run/* "$root"/tmp/* "$root"/var/tmp/*
    : >"$root/etc/machine-id"

    tarball="$cache/debian-bookworm-slim-$date.tar"
    tar --numeric-owner --xattrs -C "$root" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$root"
    trap - EXIT
    # Older roots are not needed any more.
    find "$cache" -maxdepth 1 -name 'debian-bookworm-slim-*.tar' -not -name "$(basename "$tarball")" -delete
    say "made $(basename "$tarball") ($(du -m "$tarball" | cut -f1) MB)"
fi

date=${tarball##*-}
date=${date%.tar}
if [ "$current" = "$marker $date" ]; then
    say "$tag from $date is imported"
    exit 0
fi
"$engine" import --change 'CMD ["bash"]' --message "$marker $date" "$tarball" "$tag" >/dev/null
say "imported as $tag ($date)"
