#!/usr/bin/env bash
# The README's first run, as written, on a fresh copy of this checkout (what git tracks and what it
# would add: a fresh clone of the working tree, without node_modules/ or dist/):
#
# 1. the install line of "## Start devbox" (`npm ci && npm link`), with npm's global folder in a
#    temporary directory, so that `npm link` changes nothing of the machine's;
# 2. nothing is built twice: `npx devbox` in the checkout still works, and neither it nor a second
#    `npm run build` rebuilds dist/;
# 3. the lines of "## Quick start", one by one, with the linked `devbox` on the PATH, each in the
#    folder the README's `cd` lines lead to (`cd templates/apps/hello-node`, then `devbox push`
#    there: a command from an app's folder, whose own package.json hid devbox from npx).
#
# Changes that keep it off any box of the machine's: its own state directory (DEVBOX_HOME), a free
# router port instead of 8080 (`up -d` gets `--port`, URLs the port), no HTTPS and any free ssh port
# (DEVBOX_TLS_PORT=0, DEVBOX_SSH_PORT=0: what --tls-port and --ssh-port read). The curls must answer
# (and say what the README says they show); every other line must exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
readme="$PWD/README.md"
work=$(mktemp -d)
copy="$work/devbox"
export DEVBOX_HOME="$work/home" DEVBOX_TLS_PORT=0 DEVBOX_SSH_PORT=0
export npm_config_prefix="$work/npm-global"
export PATH="$npm_config_prefix/bin:$PATH"
mkdir -p "$copy" "$DEVBOX_HOME" "$npm_config_prefix"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
npx_cache="$(npm config get cache)/_npx"
cleanup() {
  if [ -f "$copy/bin/run.js" ]; then node "$copy/bin/run.js" down >/dev/null 2>&1 || true; fi
  # `npx devbox` in the copy left a link to it in npm's cache: remove that entry too.
  grep -l -F "$copy" "$npx_cache"/*/package.json 2>/dev/null | while read -r f; do rm -rf "$(dirname "$f")"; done || true
  rm -rf "$work"
}
trap cleanup EXIT

# The indented lines of the README block under a heading, comments dropped.
block() {
  awk -v heading="$1" '$0 ~ "^## " heading {on=1; next} on && /^## /{exit} on && /^    [^ ]/{sub(/^    /, ""); sub(/ +#.*$/, ""); print}' "$readme"
}

# --- 1. the install line, in a fresh copy ---------------------------------------------------------
git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done | tar --null -T - -cf - | tar -xf - -C "$copy"
mapfile -t start < <(block 'Start devbox')
[ "${#start[@]}" -ge 2 ] || { echo "smoke: no install line and up under '## Start devbox' in README.md" >&2; exit 1; }
install=${start[0]}
echo "smoke\$ $install   # in a fresh copy of the checkout"
(cd "$copy" && bash -c "$install")
command -v devbox >/dev/null || { echo "smoke: '$install' put no devbox on the PATH" >&2; exit 1; }

# --- 2. nothing rebuilds what is built ------------------------------------------------------------
built=$(stat -c %i "$copy/dist")
echo "smoke\$ npx devbox --version   # in the checkout"
(cd "$copy" && npx devbox --version)
rebuilt=$(cd "$copy" && npm run --silent build)
echo "$rebuilt"
grep -q 'up to date' <<<"$rebuilt" || { echo "smoke: a second build compiled again" >&2; exit 1; }
[ "$(stat -c %i "$copy/dist")" = "$built" ] || { echo "smoke: npx devbox rebuilt dist/" >&2; exit 1; }

# --- 3. the quick start, with devbox from the PATH ------------------------------------------------
mapfile -t lines < <(block 'Quick start')
[ "${#lines[@]}" -ge 5 ] || { echo "smoke: no quick start found in README.md" >&2; exit 1; }
dir=$copy
ran_in_app=false
for line in "${lines[@]}"; do
  cmd=${line//:8080/:$port}
  if [[ $cmd == "devbox up -d" ]]; then cmd="$cmd --port $port"; fi
  echo "smoke:${dir#"$copy"}\$ $cmd"
  case $cmd in
    cd\ *)
      dir=$(cd "$dir" && cd "${cmd#cd }" && pwd)
      ;;
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
      for attempt in $(seq 1 60); do (cd "$dir" && bash -c "$cmd") && break; [ "$attempt" -lt 60 ] || exit 1; sleep 1; done
      ;;
    *)
      (cd "$dir" && bash -c "$cmd")
      ;;
  esac
  if [[ $cmd == devbox* && -f $dir/package.json && $dir != "$copy" ]]; then ran_in_app=true; fi
done
$ran_in_app || { echo "smoke: no quick start command ran in an app's folder (one with its own package.json)" >&2; exit 1; }
echo "smoke: README install line and quick start OK (${#lines[@]} lines)"
