#!/usr/bin/env bash
# Builds versitygw (an S3-compatible server over a directory) for the
# tests of store/s3 and prints the variable that points them to it.
#
#   eval "$(scripts/test-s3.sh start)"   # exports APPTBRIDGE_VERSITYGW
#   scripts/test-s3.sh stop              # nothing to stop (see below)
#
# The tests start their own versitygw per test (a free loopback port, a
# temporary directory, throwaway keys) because the outage test stops and
# restarts it; this script only provides the binary. The build takes a
# few minutes the first time and is cached in $APPTBRIDGE_VGW_DIR.
set -euo pipefail
VERSION="${APPTBRIDGE_VGW_VERSION:-v1.8.0}"
DIR="${APPTBRIDGE_VGW_DIR:-/tmp/apptbridge-vgw}"
BIN="$DIR/versitygw"

case "${1:-start}" in
start)
  # go install builds report no version: a stamp file records it.
  if [ ! -x "$BIN" ] || [ "$(cat "$DIR/.version" 2>/dev/null)" != "$VERSION" ]; then
    mkdir -p "$DIR"
    # Outside the module, so apptbridge's go.mod is not touched.
    (cd "$DIR" && GOFLAGS=-mod=mod GOBIN="$DIR" go install "github.com/versity/versitygw/cmd/versitygw@$VERSION") >&2
    echo "$VERSION" >"$DIR/.version"
  fi
  echo "export APPTBRIDGE_VERSITYGW='$BIN'"
  ;;
stop)
  ;;
*)
  echo "usage: $0 start|stop" >&2; exit 2
  ;;
esac
