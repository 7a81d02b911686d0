#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs every test.
# This is the README's test command (`npm run test:all`) and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. Real services the integration tests start privately on loopback (Debian packages).
missing=()
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# runbook script tests (shellcheck) and the real image builds (buildah; debootstrap makes the stand-in base)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-all: missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test-all: installing ${missing[*]} (Debian packages)"
  # Keep the packages' system services from starting (they would listen beyond loopback);
  # the tests start private instances of their own.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# 2. npm dependencies, exactly as locked (Node 24 itself comes in as a devDependency).
npm ci --no-audit --no-fund

# 3. Every project's typecheck, lint and tests (Node 24 is first on the PATH inside npm run).
# Every task runs for real: a cache hit would only replay an earlier run's output.
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false NX_SKIP_NX_CACHE=true
if ! command -v kubectl >/dev/null 2>&1; then
  echo "test-all: kubectl is not installed; the manifest tests render every overlay with its built-in kustomize and fail without it (install kubectl from the Kubernetes packages)" >&2
fi
npm test
