// Loaded by mocha before any test (.mocharc.json "require"): settings every box a test starts gets
// through the environment its `devbox` child processes inherit.
//
// The ssh proxy's port: any free one (`up --ssh-port 0`), never the default 2222, which the
// machine's own box or another test's box starting at the same moment may take.
process.env.DEVBOX_SSH_PORT ??= '0';
