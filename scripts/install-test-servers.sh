#!/usr/bin/env bash
# Test servers for the publishing tests (idempotent; CI calls it from .ci/run before the tests):
#   versitygw v1.8.0, an S3 gateway that implements conditional writes (If-Match / If-None-Match: *,
#   412 PreconditionFailed) like AWS S3, with real SigV4 authentication and a plain-file posix backend.
#   Built from the Go module proxy into /opt/versitygw-v1.8.0/ (about 1-2.5 min cold, 0.75 GB RAM,
#   ~770 MB of Go caches under ~/go and ~/.cache); a second run finds the binary and does nothing.
# The negative control, s3rver (ignores conditional headers), is an npm devDependency.
# Usage: bash scripts/install-test-servers.sh        (VGW_DIR=... to install elsewhere)
set -euo pipefail
VGW_VERSION=v1.8.0
VGW_DIR=${VGW_DIR:-/opt/versitygw-$VGW_VERSION}
if [ -x "$VGW_DIR/versitygw" ]; then
  echo "versitygw $VGW_VERSION: $VGW_DIR/versitygw (already installed)"
  exit 0
fi
export PATH=/usr/local/go/bin:$PATH
if ! command -v go >/dev/null; then
  echo "install-test-servers: Go is needed to build versitygw (expected in /usr/local/go/bin)" >&2
  exit 1
fi
# build into a temporary directory and move it into place: an interrupted build leaves no binary behind
tmp=$(mktemp -d "$(dirname "$VGW_DIR")/.versitygw-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION"
mkdir -p "$VGW_DIR"
mv "$tmp/versitygw" "$VGW_DIR/versitygw"
echo "versitygw $VGW_VERSION: $VGW_DIR/versitygw"
