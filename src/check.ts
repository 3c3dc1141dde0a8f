import pino from "pino";
import { parseServeOptions, type ServeOptions, UsageError } from "./config/options";
import { denialStatus } from "./cri/kubelet-status";
import { decidePull } from "./decision/decide";
import { createLogger } from "./observability/logger";
import { routeConsoleToLog } from "./observability/sdk-console";
import { createMetrics } from "./observability/metrics";
import { classifyRegistryHost } from "./ocir/regions";
import { loadPolicyFile } from "./policy/policy-file";
import { PolicyStore } from "./policy/policy-store";
import { authProvider, ociSources, watchClusterSource } from "./serve";
import type { KeySource, SignatureSource } from "./signatures/sources";

/**
 * `pullgate check IMAGE`: the decision a node would make for one image, made from a laptop
 * or a CI job with the same policy, credentials and endpoints flags as `serve`. Prints the
 * verdict; exits 0 when the pull would be allowed and 1 when it would be denied.
 */
export async function runCheck(args: readonly string[]): Promise<number> {
  const [image, ...rest] = args;
  if (image === undefined || image.startsWith("--")) {
    throw new UsageError("usage: pullgate check IMAGE [--pod-annotation K=V] [--output json] " +
      "[serve's policy, --auth and endpoint flags]");
  }
  const own = takeOwnFlags(rest);
  const output = own.output ?? "text";
  if (output !== "text" && output !== "json") {
    throw new UsageError(`--output: "${output}" is not one of text, json`);
  }

  const options = parseServeOptions(own.rest);
  // Problems reading the cluster's policy go to stderr; the verdict goes to stdout.
  const logger = createLogger("error", pino.destination(2));
  routeConsoleToLog(logger);
  const store = new PolicyStore(logger, createMetrics({ defaultMetrics: false }));
  if (options.policy.kind === "file") {
    store.confirm(await loadPolicyFile(options.policy.path));
  } else {
    const watch = watchClusterSource(options, options.policy, await authProvider(options), store);
    await watch.firstRead;
    watch.stop();
  }

  const oci = lazyOciSources(options);
  const judged = await decidePull(
    { image, podAnnotations: annotations(own.annotations) },
    {
      policy: store.current(),
      classifyHost: classifyRegistryHost,
      signatures: oci.signatures,
      keys: oci.keys,
      signal: AbortSignal.timeout(options.decisionTimeoutMs),
    },
  );
  // Missing credentials are the operator's problem to fix, not a verdict on the image.
  await oci.settled();
  const { decision } = judged;
  if (output === "json") {
    process.stdout.write(`${JSON.stringify({ image, ...judged })}\n`);
  } else if (decision.verdict === "allow") {
    process.stdout.write(`allowed (${decision.reason}): ${decision.detail}\n`);
  } else {
    process.stdout.write(`denied: ${denialStatus(image, decision).details}\n`);
  }
  return decision.verdict === "allow" ? 0 : 1;
}

/**
 * OCI sources whose credentials are made on first use: an image from another registry, or
 * a tag reference, is judged without any. `settled()` rethrows a credentials failure.
 */
function lazyOciSources(options: ServeOptions): {
  signatures: SignatureSource;
  keys: KeySource;
  settled(): Promise<void>;
} {
  let made: Promise<ReturnType<typeof ociSources>> | undefined;
  const sources = () =>
    (made ??= authProvider(options).then((auth) => ociSources(options, auth)));
  return {
    signatures: {
      listSignatures: async (query, signal) =>
        (await sources()).signatures.listSignatures(query, signal),
    },
    keys: {
      getKeyVersion: async (keyId, versionId, signal) =>
        (await sources()).keys.getKeyVersion(keyId, versionId, signal),
    },
    settled: async () => {
      if (made !== undefined) await made;
    },
  };
}

/** Separates check's own flags from those `serve`'s parser reads. */
function takeOwnFlags(args: readonly string[]): {
  annotations: string[];
  output?: string;
  rest: string[];
} {
  const found: { annotations: string[]; output?: string; rest: string[] } = {
    annotations: [],
    rest: [],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const [flag, inline] = arg.startsWith("--") ? splitFlag(arg) : [arg, undefined];
    if (flag !== "--pod-annotation" && flag !== "--output") {
      found.rest.push(arg);
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === "--output") found.output = value;
    else found.annotations.push(value);
  }
  return found;
}

function splitFlag(arg: string): [string, string | undefined] {
  const at = arg.indexOf("=");
  return at < 0 ? [arg, undefined] : [arg.slice(0, at), arg.slice(at + 1)];
}

function annotations(entries: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf("=");
    if (at <= 0) throw new UsageError(`--pod-annotation: "${entry}" must be KEY=VALUE`);
    map[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return map;
}
