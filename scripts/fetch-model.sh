#!/bin/sh
# fetch-model.sh URL SHA256 DEST: download a model file and verify its
# sha256 before it lands at DEST. A wrong or truncated file fails (exit 1)
# and leaves nothing at DEST. URL may be https://, http:// or file://.
# Used by the Dockerfile's model stage; tested by internal/shiptest.
set -eu

if [ "$#" -ne 3 ]; then
	echo "usage: fetch-model.sh URL SHA256 DEST" >&2
	exit 2
fi
url=$1
sum=$2
dest=$3

case $sum in
*[!0-9a-f]*|"")
	echo "fetch-model.sh: sha256 must be 64 lowercase hex digits, got '$sum'" >&2
	exit 2
	;;
esac
if [ "${#sum}" -ne 64 ]; then
	echo "fetch-model.sh: sha256 must be 64 lowercase hex digits, got '$sum'" >&2
	exit 2
fi

mkdir -p "$(dirname "$dest")"
tmp="$dest.part"
trap 'rm -f "$tmp"' EXIT
echo "fetch-model.sh: downloading $url" >&2
curl --fail --silent --show-error --location --retry 3 --output "$tmp" "$url"
# sha256sum -c reads "<sum>  <file>" lines and exits non-zero on a mismatch.
if ! echo "$sum  $tmp" | sha256sum -c - >&2; then
	echo "fetch-model.sh: $url: sha256 mismatch, want $sum" >&2
	exit 1
fi
mv "$tmp" "$dest"
echo "fetch-model.sh: verified $dest" >&2
