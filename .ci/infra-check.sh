#!/usr/bin/env bash
# CI for the infrastructure code, offline (no AWS account, only the npm registry):
#   1. `sst install` writes .sst/platform (SST's components + @pulumi/* from npm) and config.d.ts;
#   2. type-check sst.config.ts and stacks/ against those types;
#   (the stack unit tests in test/infra, Pulumi mocks, then run with the rest under `npm test`).
set -euo pipefail
cd "$(dirname "$0")/.."

# SST_NO_BUN: use npm for the platform's dependencies (no bun download from GitHub).
# SST_SKIP_DEPENDENCY_CHECK: do not try to fetch the pulumi/bun binaries; `install` needs neither.
# SST_TELEMETRY_DISABLED: no call home from CI.
export SST_NO_BUN=1 SST_SKIP_DEPENDENCY_CHECK=1 SST_TELEMETRY_DISABLED=1
# `install` evaluates app(), which needs a stage name; nothing is deployed to it.
stage="${SST_STAGE:-ci}"

echo "infra: sst install (stage $stage)"
npx --no-install sst install --stage "$stage"
test -f .sst/platform/config.d.ts || { echo "infra: sst install did not write .sst/platform/config.d.ts" >&2; exit 1; }

echo "infra: type-check sst.config.ts + stacks/"
npx --no-install tsc -p stacks/tsconfig.json
