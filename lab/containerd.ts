/**
 * A private containerd for the lab: its own socket, root and state in a temporary directory,
 * the `native` snapshotter, and OCIR host names served by the local registry.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { registryHostsInLog } from "./containerd-log";
import { containerdConfig, type ContainerdLayout } from "./containerd-config";
import { removeOnExit, startLabProcess, type LabProcess } from "./processes";
import { DEFAULT_OCIR_HOSTS, writeRegistryHosts } from "./registry-hosts";
import { waitUntilReady } from "./wait-until-ready";

/** Where Debian installs containerd. */
export const CONTAINERD_BINARY = "/usr/bin/containerd";

/** Options for {@link startContainerd}. */
export interface ContainerdOptions {
  /** The local registry, `127.0.0.1:PORT`, that serves every OCIR host. */
  registryHost: string;
  /** OCIR host names to map onto it (default {@link DEFAULT_OCIR_HOSTS}). */
  ocirHosts?: readonly string[];
  /** How long to wait for the CRI image service to answer (default 60 s). */
  readyTimeoutMs?: number;
}

/** A running lab containerd. */
export interface LabContainerd {
  /** Path of containerd's unix socket (CRI and containerd APIs). */
  readonly socket: string;
  /** `unix://` address of the socket, as gRPC clients and the kubelet write it. */
  readonly address: string;
  readonly rootDir: string;
  /** The `certs.d`-style directory named by the CRI plugin's `registry.config_path`. */
  readonly certsDir: string;
  /** containerd's log (debug level). */
  readonly logFile: string;
  readonly pid: number;
  /** Distinct registry hosts containerd has tried so far, read from its debug log. */
  contactedRegistryHosts(): Promise<string[]>;
  /** Kills containerd, unmounts anything left under its directory and removes it. */
  stop(): Promise<void>;
}

/** Starts containerd and waits until `runtime.v1.ImageService` answers on its socket. */
export async function startContainerd(options: ContainerdOptions): Promise<LabContainerd> {
  const dir = await mkdtemp(join(tmpdir(), "pullgate-containerd-"));
  const forget = removeOnExit(dir);
  const layout: ContainerdLayout = {
    dir,
    socket: join(dir, "containerd.sock"),
    rootDir: join(dir, "root"),
    stateDir: join(dir, "state"),
    certsDir: join(dir, "certs.d"),
  };
  const logFile = join(dir, "containerd.log");
  const configFile = join(dir, "config.toml");
  await prepareDirectory(layout, configFile, options);

  const child = await startLabProcess(CONTAINERD_BINARY, ["--config", configFile], logFile);
  const stop = (): Promise<void> => stopContainerd(child, dir).finally(forget);
  try {
    const ready = (): Promise<boolean> => imageServiceAnswers(layout.socket);
    await waitUntilReady("containerd", child, ready, options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    socket: layout.socket,
    address: `unix://${layout.socket}`,
    rootDir: layout.rootDir,
    certsDir: layout.certsDir,
    logFile,
    pid: child.pid,
    contactedRegistryHosts: async () => registryHostsInLog(await readFile(logFile, "utf8")),
    stop,
  };
}

async function prepareDirectory(
  layout: ContainerdLayout,
  configFile: string,
  options: ContainerdOptions,
): Promise<void> {
  for (const sub of ["tmp", "opt", "cni/bin", "cni/net.d"]) {
    await mkdir(join(layout.dir, sub), { recursive: true });
  }
  const hosts = options.ocirHosts ?? DEFAULT_OCIR_HOSTS;
  await writeRegistryHosts(layout.certsDir, hosts, options.registryHost);
  await writeFile(configFile, containerdConfig(layout));
}

async function stopContainerd(child: LabProcess, dir: string): Promise<void> {
  await child.stop(10_000);
  await unmountUnder(dir);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Answers whether the CRI v1 image service serves an empty ListImages. The CRI plugin
 * registers its service early but refuses calls until it has initialised, so this is the
 * moment a kubelet (or pullgate) could start using the socket.
 */
export function imageServiceAnswers(socket: string): Promise<boolean> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  const passThrough = (bytes: Buffer): Buffer => bytes;
  return new Promise<boolean>((resolve) => {
    client.makeUnaryRequest(
      "/runtime.v1.ImageService/ListImages",
      passThrough,
      passThrough,
      Buffer.alloc(0),
      { deadline: Date.now() + 2_000 },
      (err) => resolve(err === null),
    );
  }).finally(() => client.close());
}

const exec = promisify(execFile);

// An interrupted unpack can leave a temporary bind mount behind; rm would fail under it.
async function unmountUnder(dir: string): Promise<void> {
  const mountInfo = await readFile("/proc/self/mountinfo", "utf8");
  const points = mountInfo
    .split("\n")
    .map((line) => unescapeMountPath(line.split(" ")[4] ?? ""))
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) {
    await exec("umount", [point]).catch(() => exec("umount", ["-l", point]));
  }
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}
