#!/usr/bin/env bash
# What the tests need beyond setup.sh (idempotent; CI calls it from .ci/run before the tests):
#   versitygw  v1.8.0, the S3 server of the publishing and remote-cache tests: it implements conditional
#              writes (If-Match / If-None-Match: *, 412 PreconditionFailed) like AWS S3, with real SigV4
#              authentication and a plain-file backend. Built from the Go module proxy into
#              /opt/versitygw-v1.8.0/ (1-2.5 min cold, ~770 MB of Go caches); a second run does nothing.
#              (The negative control, s3rver, which ignores conditional headers, is an npm devDependency.)
#   rsync      gitlab-ci-local copies each job's repository with it (--shell-isolation)
#   chromium   the status page is opened in a real headless browser (playwright-core drives /usr/bin/chromium)
# Usage: bash scripts/install-test-tools.sh        (VGW_DIR=... to install versitygw elsewhere)
set -euo pipefail
missing=()
command -v rsync >/dev/null || missing+=(rsync)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
VGW_VERSION=v1.8.0
VGW_DIR=${VGW_DIR:-/opt/versitygw-$VGW_VERSION}
if [ ! -x "$VGW_DIR/versitygw" ]; then
  export PATH=/usr/local/go/bin:$PATH
  command -v go >/dev/null || { echo "install-test-tools: Go is needed to build versitygw (expected in /usr/local/go/bin)" >&2; exit 1; }
  # built into a temporary directory and moved into place: an interrupted build leaves no binary behind
  mkdir -p "$(dirname "$VGW_DIR")"
  tmp=$(mktemp -d "$(dirname "$VGW_DIR")/.versitygw-build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION"
  mkdir -p "$VGW_DIR"
  mv "$tmp/versitygw" "$VGW_DIR/versitygw"
fi
echo "test tools: versitygw $VGW_VERSION at $VGW_DIR, rsync $(rsync --version | head -1 | awk '{print $3}'), $(/usr/bin/chromium --version 2>/dev/null | head -1)"
