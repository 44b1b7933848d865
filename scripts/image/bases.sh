#!/usr/bin/env bash
# bases.sh [CACHE_DIR]: make the two base images the Dockerfile names, from
# what is reachable without a container registry, and store them in
# buildah's local storage under the exact names the Dockerfile uses:
#
#   docker.io/library/golang:1.26              Debian bookworm (mmdebstrap, from
#                                              apt's configured mirror) plus the
#                                              local Go toolchain in /usr/local/go
#   gcr.io/distroless/static-debian12:nonroot  CA certificates, tzdata,
#                                              /etc/passwd with nonroot (65532),
#                                              /etc/group, /tmp, /home/nonroot
#
# Both root file systems are cached as tarballs in CACHE_DIR (default
# .cache/image), and the images carry a key annotation (see "Keys" below),
# so a second run only imports the tarballs, or does nothing when buildah
# already holds images with the same key. Needs root, buildah, mmdebstrap.
set -euo pipefail

cache=${1:-.cache/image}
suite=bookworm
golang_ref=docker.io/library/golang:1.26
static_ref=gcr.io/distroless/static-debian12:nonroot
goroot=$(go env GOROOT)
gover=$(go env GOVERSION)

for tool in buildah mmdebstrap sha256sum; do
	command -v "$tool" >/dev/null || { echo "bases.sh: $tool not found (apt-get install buildah mmdebstrap)" >&2; exit 1; }
done

# The build machine's trust store: where the network in front of the Go
# module proxy re-signs TLS, the build stage needs its CA (a build image
# made inside such a network would have it too). The distroless stand-in
# keeps Debian's own bundle, as the real image has.
host_ca=/etc/ssl/certs/ca-certificates.crt
# The golang image is buildpack-deps:bookworm-scm plus a compiler; the
# build needs ca-certificates, curl and git (and coreutils' sha256sum).
pkgs=ca-certificates,curl,git,netbase,tzdata,make

# Keys change when anything that goes into a base changes: the rootfs
# tarball's with the suite and packages, the images' with this script,
# the Go version and the host's CA bundle.
rootfs_key=$(echo "$suite $pkgs" | sha256sum | cut -c1-16)
key=$( { cat "$0"; echo "$gover $rootfs_key"; cat "$host_ca"; } | sha256sum | cut -c1-16)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
rootfs_tar=$cache/$suite-$rootfs_key.tar
static_tar=$cache/static-$key.tar

log() { echo "bases.sh: $*" >&2; }

# Tarballs of earlier keys are stale.
find "$cache" -maxdepth 1 -name '*.tar' ! -name "${rootfs_tar##*/}" ! -name "${static_tar##*/}" -delete

# has_image REF: buildah holds REF built with this key.
has_image() {
	[ "$(buildah inspect --type image --format '{{index .ImageAnnotations "io.mlserve.stand-in-key"}}' "$1" 2>/dev/null)" = "$key" ]
}

make_rootfs() {
	[ -f "$rootfs_tar" ] && [ -s "$rootfs_tar" ] && return
	rm -rf "$rootfs_tar" "$rootfs_tar.part.tar"
	local mirror=/etc/apt/sources.list.d/debian.sources
	[ -f "$mirror" ] || mirror=/etc/apt/sources.list
	log "mmdebstrap $suite from $mirror into $rootfs_tar"
	# The configured mirror may be a dated snapshot: its Release files
	# have expired, as the host's apt configuration allows.
	mmdebstrap --variant=minbase --quiet \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--include="$pkgs" \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
		"$suite" "$rootfs_tar.part.tar" "$mirror"
	mv "$rootfs_tar.part.tar" "$rootfs_tar"
}

make_static_tar() {
	[ -s "$static_tar" ] && return
	log "distroless static stand-in into $static_tar"
	local dir
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' RETURN
	mkdir -p "$dir/rootfs" "$dir/deb"
	tar -C "$dir/deb" -xf "$rootfs_tar" ./etc/ssl/certs/ca-certificates.crt ./usr/share/zoneinfo ./etc/os-release ./usr/lib/os-release
	local r=$dir/rootfs
	mkdir -p "$r/etc/ssl/certs" "$r/usr/share" "$r/usr/lib" "$r/tmp" "$r/home/nonroot" "$r/root"
	cp "$dir/deb/etc/ssl/certs/ca-certificates.crt" "$r/etc/ssl/certs/"
	cp -a "$dir/deb/usr/share/zoneinfo" "$r/usr/share/"
	cp "$dir/deb/usr/lib/os-release" "$r/usr/lib/os-release"
	ln -s ../usr/lib/os-release "$r/etc/os-release"
	# The users and groups distroless documents (base/base.bzl).
	cat >"$r/etc/passwd" <<-'EOF'
	root:x:0:0:root:/root:/sbin/nologin
	nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
	nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
	EOF
	cat >"$r/etc/group" <<-'EOF'
	root:x:0:
	nobody:x:65534:
	tty:x:5:
	staff:x:50:
	nonroot:x:65532:
	EOF
	echo 'hosts: files dns' >"$r/etc/nsswitch.conf"
	chmod 1777 "$r/tmp"
	chmod 700 "$r/root"
	chown 65532:65532 "$r/home/nonroot"
	chmod 700 "$r/home/nonroot"
	tar -C "$r" --numeric-owner -cf "$static_tar.part" .
	mv "$static_tar.part" "$static_tar"
}

# commit_base REF TAR... -- CONFIG...: an image of the TARs' files with
# buildah config options CONFIG. The key is an annotation, which images
# built FROM it do not inherit.
commit_base() {
	local ref=$1 ctr
	shift
	ctr=$(buildah from --pull-never scratch)
	while [ "$1" != -- ]; do
		buildah add --quiet "$ctr" "$1" / >/dev/null
		shift
	done
	shift
	buildah config --annotation io.mlserve.stand-in-key="$key" \
		--annotation io.mlserve.stand-in="made by scripts/image/bases.sh, not the upstream image" "$@" "$ctr"
	buildah commit --quiet --rm "$ctr" "$ref" >/dev/null
	log "committed $ref"
}

if ! has_image "$golang_ref"; then
	make_rootfs
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# The local toolchain as /usr/local/go, GOPATH /go (mode 1777) and the
	# host's CA bundle, as the golang image has them.
	tar -cf "$tmp/go.tar" --transform "s|^\.|./usr/local/go|" -C "$goroot" .
	mkdir -p "$tmp/extra/go/bin" "$tmp/extra/go/src" "$tmp/extra/etc/ssl/certs"
	chmod -R 1777 "$tmp/extra/go"
	cp "$host_ca" "$tmp/extra/etc/ssl/certs/ca-certificates.crt"
	tar -C "$tmp/extra" --numeric-owner --owner=0 --group=0 -cf "$tmp/extra.tar" .
	commit_base "$golang_ref" "$rootfs_tar" "$tmp/go.tar" "$tmp/extra.tar" -- \
		--env GOLANG_VERSION="${gover#go}" --env GOTOOLCHAIN=local --env GOPATH=/go \
		--env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--workingdir /go --cmd bash
fi

if ! has_image "$static_ref"; then
	make_rootfs
	make_static_tar
	commit_base "$static_ref" "$static_tar" -- \
		--user 65532 --workingdir /home/nonroot \
		--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi
log "bases ready: $golang_ref, $static_ref (key $key)"
