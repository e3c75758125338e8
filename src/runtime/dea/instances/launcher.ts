// How an instance's command starts, as Cloud Foundry's launcher does it: in the app directory,
// after sourcing the buildpacks' profile scripts (deps/*/profile.d/*.sh, .profile.d/*.sh, .profile),
// the start command runs with `bash -c` and takes the launcher's place (exec), so the instance's
// pid, process group and session stay the launcher's. With a memory cgroup, the launcher first
// moves itself into it, so that everything the app starts is inside before it exists.
//
// The file descriptor limit (limits.fds) is applied with ulimit where the hard limit allows it.
//
//   bash -c LAUNCHER devbox-launcher <cgroup.procs file or ""> <fds limit or ""> <start command>
export const LAUNCHER = [
  'if [ -n "$1" ]; then echo $$ > "$1" || { echo "devbox: could not enter the instance cgroup" >&2; exit 70; }; fi',
  'if [ -n "$2" ]; then ulimit -n "$2" 2>/dev/null || true; fi',
  '__devbox_command="$3"',
  'set --',
  'if [ -d "$DEPS_DIR" ]; then for __f in "$DEPS_DIR"/*/profile.d/*.sh; do if [ -r "$__f" ]; then . "$__f"; fi; done; fi',
  'if [ -d .profile.d ]; then for __f in .profile.d/*.sh; do if [ -r "$__f" ]; then . "$__f"; fi; done; fi',
  'if [ -r .profile ]; then . ./.profile; fi',
  'unset __f',
  'exec bash -c "$__devbox_command"',
].join('\n');

export const launcherArgs = (procsFile: string | undefined, fds: number | undefined, command: string) => [
  '-c',
  LAUNCHER,
  'devbox-launcher',
  procsFile ?? '',
  fds && fds > 0 ? String(Math.floor(fds)) : '',
  command,
];
