import { type ParseArgsConfig, parseArgs } from "node:util";
import { AUTH_MODES, type AuthMode } from "../oci/auth";
import { HOST_PORT } from "../observability/http-server";
import { ocidProblem } from "../policy/ocid";
import {
  DEFAULT_ALLOW_TTL_MS,
  DEFAULT_DECISION_TIMEOUT_MS,
  DEFAULT_DENY_TTL_MS,
  DEFAULT_KEY_CACHE_TTL_MS,
  DEFAULT_LISTEN,
  DEFAULT_METRICS_LISTEN,
  DEFAULT_UPSTREAM,
  DEFAULT_VERDICT_CACHE_SIZE,
} from "./defaults";
import { parseDuration } from "./duration";

/**
 * `pullgate serve` options, validated once at start-up. Every error names the option and
 * the value that is wrong.
 */

/** Where the image verification policy comes from: one source at a time. */
export type PolicySourceOption =
  | { kind: "file"; path: string }
  | { kind: "cluster"; clusterId: string; refreshMs: number };

/** OCI API endpoints that replace the public ones (private endpoints, tests). */
export interface EndpointOverrides {
  /** Artifacts endpoint by region id; `*` applies to every region. */
  artifacts: ReadonlyMap<string, string>;
  /** Vault management endpoint for every key. */
  vault?: string;
  containerEngine?: string;
}

/** Validated options of `pullgate serve`. */
export interface ServeOptions {
  listen: string;
  upstream: string;
  policy: PolicySourceOption;
  /** The tenancy that owns OCIR namespaces not mapped otherwise (cluster policy source). */
  tenancy?: string;
  namespaceTenancies: Readonly<Record<string, string>>;
  auth: AuthMode;
  ociConfigFile?: string;
  ociProfile: string;
  endpoints: EndpointOverrides;
  metricsListen: string;
  mode: "enforce" | "audit";
  decisionTimeoutMs: number;
  /** Whether ImageStatus hides OCIR images a pod without break-glass may not use. */
  imageStatusGate: boolean;
  /** Signature verdict cache: lifetimes of allow and deny verdicts, and its size. */
  verdictCache: { allowTtlMs: number; denyTtlMs: number; maxEntries: number };
  /** How long a Vault key version's public key and state are reused. */
  keyCacheTtlMs: number;
  logLevel: string;
}

/** A command line that cannot be run, with a message for the person who wrote it. */
export class UsageError extends Error {
  readonly code = "PULLGATE_USAGE";

  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const TEXT = { type: "string" } as const;
const LIST = { type: "string", multiple: true } as const;

const SERVE_FLAGS = {
  listen: { ...TEXT, default: DEFAULT_LISTEN },
  upstream: { ...TEXT, default: DEFAULT_UPSTREAM },
  policy: TEXT,
  "cluster-id": TEXT,
  "policy-refresh": { ...TEXT, default: "60s" },
  tenancy: TEXT,
  "namespace-tenancy": { ...LIST, default: [] as string[] },
  auth: { ...TEXT, default: "config-file" },
  "oci-config": TEXT,
  "oci-profile": { ...TEXT, default: "DEFAULT" },
  "artifacts-endpoint": { ...LIST, default: [] as string[] },
  "vault-endpoint": TEXT,
  "containerengine-endpoint": TEXT,
  "metrics-listen": { ...TEXT, default: DEFAULT_METRICS_LISTEN },
  mode: { ...TEXT, default: "enforce" },
  "decision-timeout": { ...TEXT, default: `${DEFAULT_DECISION_TIMEOUT_MS / 1000}s` },
  "image-status-gate": { ...TEXT, default: "on" },
  "allow-cache-ttl": { ...TEXT, default: `${DEFAULT_ALLOW_TTL_MS / 1000}s` },
  "key-cache-ttl": { ...TEXT, default: `${DEFAULT_KEY_CACHE_TTL_MS / 1000}s` },
  "deny-cache-ttl": { ...TEXT, default: `${DEFAULT_DENY_TTL_MS / 1000}s` },
  "verdict-cache-size": { ...TEXT, default: String(DEFAULT_VERDICT_CACHE_SIZE) },
  "log-level": { ...TEXT, default: "info" },
} satisfies ParseArgsConfig["options"];

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Parses and validates `pullgate serve` arguments (without the `serve` word). */
export function parseServeOptions(args: readonly string[]): ServeOptions {
  const { values } = guarded(() =>
    parseArgs({ args: [...args], options: SERVE_FLAGS, strict: true, allowPositionals: false }),
  );
  const policy = policySource(values.policy, values["cluster-id"], values["policy-refresh"]);
  const options: ServeOptions = {
    listen: values.listen,
    upstream: values.upstream,
    policy,
    namespaceTenancies: namespaceTenancies(values["namespace-tenancy"]),
    auth: oneOf("--auth", values.auth, AUTH_MODES),
    ociProfile: values["oci-profile"],
    endpoints: endpoints(values),
    metricsListen: values["metrics-listen"],
    mode: oneOf("--mode", values.mode, ["enforce", "audit"] as const),
    decisionTimeoutMs: durationOf("--decision-timeout", values["decision-timeout"], 100,
      110_000),
    imageStatusGate: oneOf("--image-status-gate", values["image-status-gate"],
      ["on", "off"] as const) === "on",
    verdictCache: {
      allowTtlMs: durationOf("--allow-cache-ttl", values["allow-cache-ttl"], 0, 3_600_000),
      denyTtlMs: durationOf("--deny-cache-ttl", values["deny-cache-ttl"], 0, 3_600_000),
      maxEntries: countOf("--verdict-cache-size", values["verdict-cache-size"], 1, 1_000_000),
    },
    keyCacheTtlMs: durationOf("--key-cache-ttl", values["key-cache-ttl"], 0, 3_600_000),
    logLevel: oneOf("--log-level", values["log-level"], LOG_LEVELS),
  };
  if (values["oci-config"] !== undefined) options.ociConfigFile = values["oci-config"];
  if (values.tenancy !== undefined) {
    const problem = ocidProblem(values.tenancy, "tenancy");
    if (problem !== undefined) throw new UsageError(`--tenancy: ${problem}`);
    options.tenancy = values.tenancy;
  }
  const sourceFlags = values.tenancy !== undefined || values["namespace-tenancy"].length > 0;
  if (policy.kind === "file" && sourceFlags) {
    throw new UsageError(
      "--tenancy and --namespace-tenancy go with --cluster-id; " +
        "a policy file names its tenancy and namespaces itself",
    );
  }
  if (policy.kind === "cluster" && options.tenancy === undefined) {
    throw new UsageError("--cluster-id needs --tenancy: the tenancy that owns the OCIR namespaces");
  }
  if (!HOST_PORT.test(options.metricsListen)) {
    throw new UsageError(`--metrics-listen: "${options.metricsListen}" is not host:port`);
  }
  return options;
}

/** Runs a parse, turning node:util's errors about unknown or malformed flags into usage. */
function guarded<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function policySource(
  file: string | undefined,
  clusterId: string | undefined,
  refresh: string,
): PolicySourceOption {
  if (file !== undefined && clusterId !== undefined) {
    throw new UsageError("--policy and --cluster-id are two policy sources: choose one");
  }
  if (clusterId !== undefined) {
    const problem = ocidProblem(clusterId, "cluster");
    if (problem !== undefined) throw new UsageError(`--cluster-id: ${problem}`);
    return {
      kind: "cluster",
      clusterId,
      refreshMs: durationOf("--policy-refresh", refresh, 1000, 3_600_000),
    };
  }
  if (file === undefined) {
    throw new UsageError("a policy source is required: --policy FILE or --cluster-id OCID");
  }
  return { kind: "file", path: file };
}

function namespaceTenancies(entries: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of entries) {
    const [namespace = "", tenancy = ""] = entry.split("=", 2);
    const problem = ocidProblem(tenancy, "tenancy");
    if (namespace === "" || problem !== undefined) {
      throw new UsageError(
        `--namespace-tenancy: "${entry}" must be NAMESPACE=TENANCY_OCID` +
          (problem === undefined ? "" : ` (${problem})`),
      );
    }
    map[namespace] = tenancy;
  }
  return map;
}

function endpoints(values: {
  "artifacts-endpoint": string[];
  "vault-endpoint"?: string | undefined;
  "containerengine-endpoint"?: string | undefined;
}): EndpointOverrides {
  const artifacts = new Map<string, string>();
  for (const entry of values["artifacts-endpoint"]) {
    const split = /^([a-z0-9-]+)=(.+)$/.exec(entry);
    const [region, url] = split === null ? ["*", entry] : [split[1] ?? "", split[2] ?? ""];
    artifacts.set(region, urlOf("--artifacts-endpoint", url));
  }
  const vault = values["vault-endpoint"];
  const containerEngine = values["containerengine-endpoint"];
  return {
    artifacts,
    ...(vault === undefined ? {} : { vault: urlOf("--vault-endpoint", vault) }),
    ...(containerEngine === undefined
      ? {}
      : { containerEngine: urlOf("--containerengine-endpoint", containerEngine) }),
  };
}

function urlOf(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag}: "${value}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`${flag}: "${value}" must be an http(s) URL`);
  }
  return value.replace(/\/+$/, "");
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag}: "${value}" is not one of ${allowed.join(", ")}`);
}

function countOf(flag: string, value: string, min: number, max: number): number {
  const count = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!(count >= min && count <= max)) {
    throw new UsageError(`${flag}: "${value}" is not a whole number in ${min}..${max}`);
  }
  return count;
}

function durationOf(flag: string, value: string, min: number, max: number): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`${flag}: "${value}" is not a duration like 20s`);
  if (ms < min || ms > max) {
    throw new UsageError(`${flag}: ${value} is outside ${min}ms..${max / 1000}s`);
  }
  return ms;
}
