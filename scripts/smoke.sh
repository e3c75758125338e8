#!/usr/bin/env bash
# The README's quick start, run as written: its command lines are read from the README and run one
# by one, with two changes so that it never touches a box of the machine's: its own state directory
# (DEVBOX_HOME) and a free router port instead of 8080 (`up -d` gets `--port`, URLs the port). The
# curls must answer (and say what the README says they show); every other line must exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEVBOX_HOME
DEVBOX_HOME=$(mktemp -d)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
cleanup() { node bin/run.js down >/dev/null 2>&1 || true; rm -rf "$DEVBOX_HOME"; }
trap cleanup EXIT

# The indented lines of the block under "## Quick start", comments dropped.
mapfile -t lines < <(awk '/^## Quick start/{on=1; next} on && /^## /{exit} on && /^    [^ ]/{sub(/^    /, ""); sub(/ +#.*$/, ""); print}' README.md)
[ "${#lines[@]}" -ge 5 ] || { echo "smoke: no quick start found in README.md" >&2; exit 1; }

for line in "${lines[@]}"; do
  cmd=${line//:8080/:$port}
  if [[ $cmd == "npx devbox up -d" ]]; then cmd="$cmd --port $port"; fi
  echo "smoke\$ $cmd"
  case $cmd in
    curl*)
      # curl resolves *.localhost to loopback by itself (as browsers do); older curls get --resolve.
      url=${cmd#curl }
      host=${url#http://}; host=${host%%/*}; host=${host%%:*}
      out=$(curl -sf --max-time 10 --resolve "$host:$port:127.0.0.1" "$url")
      echo "$out" | head -c 300; echo
      case $url in
        */env) grep -q '"p-mysql"' <<<"$out" || { echo "smoke: VCAP_SERVICES has no p-mysql binding" >&2; exit 1; } ;;
        */) grep -q 'Hello from hello' <<<"$out" || { echo "smoke: the app did not answer" >&2; exit 1; } ;;
      esac
      ;;
    *create-service*)
      # The MySQL node starts its server in the background of `up`: the broker may need a moment.
      for attempt in $(seq 1 60); do bash -c "$cmd" && break; [ "$attempt" -lt 60 ] || exit 1; sleep 1; done
      ;;
    *)
      bash -c "$cmd"
      ;;
  esac
done
echo "smoke: README quick start OK (${#lines[@]} lines)"
