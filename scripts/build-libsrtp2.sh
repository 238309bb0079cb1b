#!/usr/bin/env bash
# Builds libsrtp2 2.5.0 with its OpenSSL crypto backend into native/libsrtp2/libsrtp2.so.1
# (git-ignored), which ffi/srtp.ts prefers to the system library: `npm run build:libsrtp2`.
#
# Why: Debian's libsrtp2-1 is built with NSS, whose AES-CM and HMAC code sets up a PKCS#11
# context for every packet; most of an SRTP call's CPU goes there. The OpenSSL backend keeps
# its EVP contexts between packets and uses AES-NI.
#
# The source is Debian's orig tarball (the same release Debian ships), fetched at build time and
# checked against the sha256 pinned below (taken from Debian's libsrtp2_2.5.0-3.dsc). Needs a C
# compiler, make and the OpenSSL headers (Debian: apt-get install build-essential libssl-dev),
# and curl or wget. Nothing is installed outside native/libsrtp2/.
#
# Idempotent: when native/libsrtp2/libsrtp2.so.1 exists and its stamp names this tarball hash
# and these configure options, it exits 0 at once (FORCE=1 rebuilds). On any failure it says
# why and exits non-zero; the engine then keeps using the system libsrtp2.
set -euo pipefail

VERSION=2.5.0
URL="http://deb.debian.org/debian/pool/main/libs/libsrtp2/libsrtp2_${VERSION}.orig.tar.gz"
# Checksums-Sha256 of libsrtp2_2.5.0.orig.tar.gz in Debian's libsrtp2_2.5.0-3.dsc (PGP-signed)
SHA256=8a43ef8e9ae2b665292591af62aa1a4ae41e468b6d98d8258f91478735da4e09
CONFIGURE_OPTS=(--enable-openssl --disable-pcap)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR="$ROOT/native/libsrtp2"
LIB="$OUT_DIR/libsrtp2.so.1"
STAMP="$OUT_DIR/BUILT_FROM"
STAMP_TEXT="libsrtp2_${VERSION}.orig.tar.gz sha256=${SHA256} configure ${CONFIGURE_OPTS[*]}"

fail() {
	echo "build-libsrtp2: FAILED: $*" >&2
	echo "build-libsrtp2: the engine keeps using the system libsrtp2 (libsrtp2-1)" >&2
	exit 1
}

if [ "$(uname -s)" != Linux ]; then
	fail "this script builds the Linux shared library only (uname: $(uname -s))"
fi

if [ "${FORCE:-0}" != 1 ] && [ -f "$LIB" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ]; then
	echo "build-libsrtp2: $LIB is up to date ($STAMP_TEXT)"
	exit 0
fi

for tool in cc make tar sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || fail "no $tool on PATH (Debian: apt-get install -y build-essential)"
done
if command -v curl >/dev/null 2>&1; then
	fetch() { curl -fsSL --retry 3 --connect-timeout 20 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
	fetch() { wget -q --tries=3 --timeout=20 -O "$2" "$1"; }
else
	fail "neither curl nor wget is installed"
fi
# the OpenSSL headers: configure would only say "OpenSSL not found" much later
if ! printf '#include <openssl/evp.h>\nint main(void){return 0;}\n' | cc -x c -o /dev/null - -lcrypto >/dev/null 2>&1; then
	fail "cannot compile against OpenSSL (Debian: apt-get install -y libssl-dev)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/build-libsrtp2.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TARBALL="$WORK/libsrtp2_${VERSION}.orig.tar.gz"

echo "build-libsrtp2: fetching $URL"
fetch "$URL" "$TARBALL" || fail "download of $URL failed"
GOT=$(sha256sum "$TARBALL" | cut -d' ' -f1)
[ "$GOT" = "$SHA256" ] || fail "sha256 mismatch for $URL: got $GOT, expected $SHA256"

tar -xzf "$TARBALL" -C "$WORK" || fail "cannot unpack $TARBALL"
SRC="$WORK/libsrtp-${VERSION}"
[ -x "$SRC/configure" ] || fail "no configure script in the tarball"

echo "build-libsrtp2: configure ${CONFIGURE_OPTS[*]}"
(cd "$SRC" && ./configure "${CONFIGURE_OPTS[@]}" >"$WORK/configure.log" 2>&1) || {
	tail -20 "$WORK/configure.log" >&2
	fail "configure failed (log above)"
}
grep -q '^#define OPENSSL 1' "$SRC/crypto/include/config.h" || fail "configure did not select the OpenSSL backend"

echo "build-libsrtp2: make shared_library"
(cd "$SRC" && make -j"$(nproc 2>/dev/null || echo 2)" shared_library >"$WORK/make.log" 2>&1) || {
	tail -20 "$WORK/make.log" >&2
	fail "make failed (log above)"
}
[ -f "$SRC/libsrtp2.so.1" ] || fail "make produced no libsrtp2.so.1"

# install atomically: a half-copied library must never be picked up by a running engine
mkdir -p "$OUT_DIR"
cp "$SRC/libsrtp2.so.1" "$OUT_DIR/.libsrtp2.so.1.tmp"
mv -f "$OUT_DIR/.libsrtp2.so.1.tmp" "$LIB"
printf '%s\n' "$STAMP_TEXT" >"$STAMP"
echo "build-libsrtp2: installed $LIB ($STAMP_TEXT)"
