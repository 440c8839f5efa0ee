#!/usr/bin/env bash
# Benchmark of authentication and RBAC (issue 16's goal: authorization adds <= 50 us to a
# request at 1,000 RoleBindings, creates stay >= 5,000/s):
# 1. sluice-auth's rbac_bench: decisions/s with 1,000 RoleBindings, as a ratio to the same
#    decisions with only the default roles, index build time, peak RSS;
# 2. sluice-apiserver's auth_bench: GET and create through the authenticated router for an
#    RBAC-decided token-file user, as a ratio to the admin token (system:masters, no RBAC
#    lookup) and to no authentication, in the same run; then with the seed's argocd-rbac-cm
#    and 100 Applications stored: the same RBAC user (Argo CD's policy not consulted), and a
#    `developers` member whom only Argo CD's policy allows (GET, a sync's operation patch,
#    a list filtered per item) against the admin token; peak RSS.
# 3. sluice-auth's oidc_bench: OIDC ID token verifications (RS256 with 1 and 11 keys, ES256,
#    the fall-through check, a success-cache hit) as a ratio to ServiceAccount token
#    verification in the same run; peak RSS.
# PROFILE=release for release numbers (default: dev). BINDINGS=N to change the count.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-dev}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
cargo build --profile "$profile" --locked -q -p sluice-auth --example rbac_bench
"${CARGO_TARGET_DIR:-target}/$dir/examples/rbac_bench" "${BINDINGS:-1000}"
cargo build --profile "$profile" --locked -q -p sluice-auth --example oidc_bench
"${CARGO_TARGET_DIR:-target}/$dir/examples/oidc_bench"
if [ "${SKIP_SERVER:-}" != 1 ]; then
  cargo build --profile "$profile" --locked -q -p sluice-apiserver --example auth_bench
  "${CARGO_TARGET_DIR:-target}/$dir/examples/auth_bench" "${BINDINGS:-1000}"
fi
