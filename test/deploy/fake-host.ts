import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** The KubeletConfiguration of an OKE node (CRI-O), as the kubelet-switch sees it. */
export const OKE_KUBELET_CONFIG = `{
  "kind": "KubeletConfiguration",
  "apiVersion": "kubelet.config.k8s.io/v1beta1",
  "containerRuntimeEndpoint": "unix:///var/run/crio/crio.sock",
  "cgroupDriver": "systemd",
  "maxPods": 110
}
`;

/** A temporary directory standing in for a node's root file system. */
export interface FakeHost {
  root: string;
  /** A host path inside the fake root. */
  path(hostPath: string): string;
  write(hostPath: string, content: string): Promise<void>;
  read(hostPath: string): Promise<string>;
  /** Makes a process that looks like a running kubelet with these arguments. */
  addKubelet(args: string[]): Promise<void>;
  /** Every kubelet restart recorded so far. */
  restarts(): Promise<number>;
  /** The environment that points the host scripts at this fake host. */
  env(extra?: Record<string, string>): Record<string, string>;
  remove(): Promise<void>;
}

/** Creates a fake host root; sockets live under it, so its path must stay short. */
export async function createFakeHost(): Promise<FakeHost> {
  const root = await mkdtemp(join(tmpdir(), "pg-host-"));
  const path = (hostPath: string): string => join(root, hostPath);
  const write = async (hostPath: string, content: string): Promise<void> => {
    await mkdir(dirname(path(hostPath)), { recursive: true });
    await writeFile(path(hostPath), content);
  };
  await mkdir(path("/run/pullgate"), { recursive: true });
  const restartLog = path("/restarts.log");

  return {
    root,
    path,
    write,
    read: (hostPath) => readFile(path(hostPath), "utf8"),
    addKubelet: async (args) => {
      await write("/proc/4242/comm", "kubelet\n");
      await write("/proc/4242/cmdline", ["/usr/bin/kubelet", ...args].join("\0") + "\0");
    },
    restarts: async () => {
      const log = await readFile(restartLog, "utf8").catch(() => "");
      return log.split("\n").filter((line) => line === "kubelet restarted").length;
    },
    env: (extra = {}) => ({
      PULLGATE_HOST_ROOT: root,
      PULLGATE_KUBELET_RESTART: `echo 'kubelet restarted' >> '${restartLog}'`,
      ...extra,
    }),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
