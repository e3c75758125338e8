#!/usr/bin/env bash
# The README's quick start, run as written (with its own state directory and a free router port so
# that it never touches a box of the machine's): up, push the sample app, reach it through the
# router, scale, read its logs, create and bind a MySQL service, see it in the app, down.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export DEVBOX_HOME
DEVBOX_HOME=$(mktemp -d)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
devbox() { node "$root/bin/run.js" "$@"; }
cleanup() { devbox down >/dev/null 2>&1 || true; rm -rf "$DEVBOX_HOME"; }
trap cleanup EXIT
# curl resolves *.localhost to loopback by itself (as browsers do); older curls get --resolve.
get() { curl -sf --max-time 10 --resolve "$1.localhost:$port:127.0.0.1" "http://$1.localhost:$port$2"; }

devbox up -d --port "$port"
cd templates/apps/hello-node
devbox push hello
get hello / | grep -q 'Hello from hello, instance 0'
devbox scale hello -i 2
devbox app hello | grep -q '#1'
devbox logs hello --recent | grep -q 'listening on'
# The MySQL node starts its server in the background of `up`: the broker may need a moment.
for _ in $(seq 1 60); do devbox create-service p-mysql small mydb && break; sleep 1; done
devbox bind-service hello mydb
devbox restage hello
get hello /env | grep -q '"p-mysql"'
devbox down
echo "smoke: README quick start OK"
