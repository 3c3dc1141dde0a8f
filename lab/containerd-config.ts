/** The configuration file of the lab's containerd: everything in one temporary directory. */

/** The directories and addresses the configuration names. */
export interface ContainerdLayout {
  /** The lab's temporary directory holding everything below. */
  dir: string;
  socket: string;
  rootDir: string;
  stateDir: string;
  certsDir: string;
}

/** Plugins the lab never needs; each would probe the host for a storage driver. */
const DISABLED_PLUGINS = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs",
];

/** containerd 1.6 config (version 2) for the lab. */
export function containerdConfig(layout: ContainerdLayout): string {
  const q = (value: string): string => JSON.stringify(value);
  const cri = `[plugins."io.containerd.grpc.v1.cri"]`;
  return [
    "version = 2",
    `root = ${q(layout.rootDir)}`,
    `state = ${q(layout.stateDir)}`,
    `temp = ${q(`${layout.dir}/tmp`)}`,
    `disabled_plugins = [${DISABLED_PLUGINS.map(q).join(", ")}]`,
    // Start-up fails at once, instead of timing out, when the CRI plugin cannot load.
    `required_plugins = ["io.containerd.grpc.v1.cri"]`,
    "",
    "[grpc]",
    `  address = ${q(layout.socket)}`,
    `  tcp_address = ""`,
    "[ttrpc]",
    `  address = ${q(`${layout.socket}.ttrpc`)}`,
    // No debug socket and no metrics listener; debug level so the log names every host asked.
    "[debug]",
    `  address = ""`,
    `  level = "debug"`,
    "[metrics]",
    `  address = ""`,
    "",
    `[plugins."io.containerd.internal.v1.opt"]`,
    `  path = ${q(`${layout.dir}/opt`)}`,
    cri,
    "  disable_tcp_service = true",
    // The streaming server (exec, attach) has no TCP-free mode: keep it on loopback.
    `  stream_server_address = "127.0.0.1"`,
    `  stream_server_port = "0"`,
    "  enable_tls_streaming = false",
    `${cri.slice(0, -1)}.containerd]`,
    `  snapshotter = "native"`,
    `  default_runtime_name = "runc"`,
    `${cri.slice(0, -1)}.cni]`,
    `  bin_dir = ${q(`${layout.dir}/cni/bin`)}`,
    `  conf_dir = ${q(`${layout.dir}/cni/net.d`)}`,
    `${cri.slice(0, -1)}.registry]`,
    `  config_path = ${q(layout.certsDir)}`,
    "",
  ].join("\n");
}
