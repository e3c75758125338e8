// How an instance's command starts, as Cloud Foundry's launcher does it: in the app directory,
// after sourcing the buildpacks' profile scripts (deps/*/profile.d/*.sh, .profile.d/*.sh, .profile),
// the start command runs with `bash -c` and takes the launcher's place (exec), so the instance's
// pid stays the launcher's. (The container entered its cgroups before this runs: containers/.)
//
// The file descriptor limit (limits.fds) is applied with ulimit where the hard limit allows it.
//
//   bash -c LAUNCHER devbox-launcher <fds limit or ""> <start command>
export const LAUNCHER = [
  'if [ -n "$1" ]; then ulimit -n "$1" 2>/dev/null || true; fi',
  '__devbox_command="$2"',
  'set --',
  'if [ -d "$DEPS_DIR" ]; then for __f in "$DEPS_DIR"/*/profile.d/*.sh; do if [ -r "$__f" ]; then . "$__f"; fi; done; fi',
  'if [ -d .profile.d ]; then for __f in .profile.d/*.sh; do if [ -r "$__f" ]; then . "$__f"; fi; done; fi',
  'if [ -r .profile ]; then . ./.profile; fi',
  'unset __f',
  'exec bash -c "$__devbox_command"',
].join('\n');

export const launcherArgs = (fds: number | undefined, command: string) => [
  '-c',
  LAUNCHER,
  'devbox-launcher',
  fds && fds > 0 ? String(Math.floor(fds)) : '',
  command,
];
