#!/bin/sh
# Runs the mdrsflow benchmarks from the repository root; flags go to the
# harness (go run ./bench -h lists them).
set -e
cd "$(dirname "$0")/.."
exec go run ./bench "$@"
