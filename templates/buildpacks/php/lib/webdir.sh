# devbox's PHP buildpack: the directory the app serves (sourced by bin/compile and bin/release, in
# the build directory). Cloud Foundry's php buildpack's WEBDIR in .bp-config/options.json, else the
# first of htdocs, public, web and www that holds a .php or index.html, else the app's root.
# Sets WEBDIR (relative, plain: letters, digits and ._/- only, no ..) and WEBDIR_PROBLEM (why a
# configured one was not taken, or '').
WEBDIR="" WEBDIR_PROBLEM=""
if [ -f .bp-config/options.json ]; then
  configured="$(tr -d '\n\r' <.bp-config/options.json | sed -n 's/.*"WEBDIR"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')"
  configured="${configured#./}"
  configured="${configured%/}"
  if [ -n "$configured" ]; then
    if [[ ! "$configured" =~ ^[A-Za-z0-9._/-]+$ ]] || [[ "$configured" == *..* ]] || [[ "$configured" == /* ]]; then
      WEBDIR_PROBLEM="WEBDIR '$configured' in .bp-config/options.json is not a plain directory of the app (letters, digits and ._/- only)"
    elif [ ! -d "$configured" ]; then
      WEBDIR_PROBLEM="WEBDIR '$configured' in .bp-config/options.json is not a directory of the app"
    else
      WEBDIR="$configured"
    fi
  fi
fi
if [ -z "$WEBDIR" ]; then
  for candidate in htdocs public web www; do
    if [ -d "$candidate" ] && { compgen -G "$candidate/*.php" >/dev/null || [ -f "$candidate/index.html" ]; }; then
      WEBDIR="$candidate"
      break
    fi
  done
fi
WEBDIR="${WEBDIR:-.}"
