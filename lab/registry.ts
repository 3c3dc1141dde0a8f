/**
 * A local OCI registry for the lab: Debian's `docker-registry` (distribution 2.8) on
 * 127.0.0.1, without auth, storing into a temporary directory.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "./free-port";
import { removeOnExit, startLabProcess, type LabProcess } from "./processes";
import { waitUntilReady } from "./wait-until-ready";

/** Where Debian installs the distribution registry. */
export const REGISTRY_BINARY = "/usr/bin/docker-registry";

/** One HTTP request the registry served, read back from its access log. */
export interface RegistryRequest {
  method: string;
  /** Request path with any query string, e.g. `/v2/ns/repo/manifests/sha256:...`. */
  path: string;
  status: number;
  /** The client's User-Agent, e.g. `containerd/1.6.20~ds1`. */
  userAgent: string;
}

/** A running local registry. */
export interface LocalRegistry {
  /** `127.0.0.1:PORT`, the form containerd's hosts.toml and image references use. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The registry's own log (access log included). */
  readonly logFile: string;
  /** PID of the registry process. */
  readonly pid: number;
  /** Every request served so far, in order. */
  requests(): Promise<RegistryRequest[]>;
  /** Kills the registry process and removes its directory. */
  stop(): Promise<void>;
}

/** Options for {@link startRegistry}. */
export interface RegistryOptions {
  /** How long to wait for `/v2/` to answer (default 30 s). */
  readyTimeoutMs?: number;
}

const PORT_ATTEMPTS = 3;

/** Starts a registry on a free loopback port and waits until `/v2/` answers. */
export async function startRegistry(options: RegistryOptions = {}): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "pullgate-registry-"));
  const forget = removeOnExit(dir);
  let lastError: unknown;
  // The free port is probed then released, so another process can take it in between.
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    try {
      const registry = await startOnFreePort(dir, options.readyTimeoutMs ?? 30_000);
      return { ...registry, stop: () => registry.stop().finally(forget) };
    } catch (err) {
      lastError = err;
    }
  }
  await rm(dir, { recursive: true, force: true });
  forget();
  throw lastError;
}

async function startOnFreePort(dir: string, readyTimeoutMs: number): Promise<LocalRegistry> {
  const port = await freeLoopbackPort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const configFile = join(dir, "config.yml");
  const logFile = join(dir, "registry.log");
  await writeFile(configFile, registryConfig(host, join(dir, "storage")));

  const child = await startLabProcess(REGISTRY_BINARY, ["serve", configFile], logFile);
  try {
    await waitUntilReady("docker-registry", child, () => answersV2(url), readyTimeoutMs);
  } catch (err) {
    await child.stop(2_000);
    throw err;
  }
  return {
    host,
    url,
    logFile,
    pid: child.pid,
    requests: async () => parseAccessLog(await readFile(logFile, "utf8")),
    stop: () => stopRegistry(child, dir),
  };
}

async function stopRegistry(child: LabProcess, dir: string): Promise<void> {
  await child.stop(5_000);
  await rm(dir, { recursive: true, force: true });
}

async function answersV2(url: string): Promise<boolean> {
  const response = await fetch(`${url}/v2/`);
  await response.arrayBuffer();
  return response.status === 200;
}

/** The registry configuration: loopback only, no auth, deletes allowed, access log on. */
export function registryConfig(host: string, storageDir: string): string {
  return [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: false",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(storageDir)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: ${JSON.stringify(host)}`,
    // A fixed secret per run keeps the registry from warning about a generated one.
    `  secret: ${randomBytes(16).toString("hex")}`,
    "",
  ].join("\n");
}

// Combined log format: `127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" 200 123 "" "agent"`.
const ACCESS_LINE = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"/;

/** The requests recorded in a registry log, in order. */
export function parseAccessLog(log: string): RegistryRequest[] {
  const requests: RegistryRequest[] = [];
  for (const line of log.split("\n")) {
    const match = ACCESS_LINE.exec(line);
    if (match === null) continue;
    const [, method = "", path = "", status = "0", userAgent = ""] = match;
    requests.push({ method, path, status: Number(status), userAgent });
  }
  return requests;
}
