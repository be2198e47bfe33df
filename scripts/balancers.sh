#!/usr/bin/env bash
# Install nginx and HAProxy, whose own config tests (`nginx -t`, `haproxy -c`) check the load
# balancer configs in docs/deployment.md, when they are missing. Only the programs are needed:
# a service the install started is stopped again. Quiet and idempotent; where they cannot be
# installed, the docs test falls back to a minimal check of those configs.
set -u

command -v nginx >/dev/null 2>&1 && command -v haproxy >/dev/null 2>&1 && exit 0
command -v apt-get >/dev/null 2>&1 || exit 0
[ "$(id -u)" -eq 0 ] || exit 0
echo "installing nginx and haproxy (apt) to check the balancer configs of docs/deployment.md"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1
apt-get install -y -qq --no-install-recommends nginx haproxy >/dev/null 2>&1 \
  || echo "warning: could not install nginx and haproxy; their configs get a minimal check" >&2
for service in nginx haproxy; do
  if command -v service >/dev/null 2>&1; then service "$service" stop >/dev/null 2>&1; fi
done
exit 0
