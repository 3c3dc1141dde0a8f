#!/usr/bin/env node
import { parseServeOptions, UsageError } from "./config/options";
import { createLogger } from "./observability/logger";
import { routeConsoleToLog } from "./observability/sdk-console";
import { loadPolicyFile } from "./policy/policy-file";
import { serve } from "./serve";

/**
 * The `pullgate` command. `serve` runs the node agent; `check` judges one image against a
 * policy from a laptop or CI. Exit codes: 0 success (or allowed), 1 denied or failed to
 * start, 2 a usage error.
 */

const USAGE = `pullgate: lets a Kubernetes node pull OCIR images only when they are signed by a
Vault key the cluster's image verification policy trusts.

Usage:
  pullgate serve [options]       serve the CRI image service for the kubelet
  pullgate check IMAGE [options] judge one image against the policy, print the verdict
  pullgate check-policy FILE     validate a policy file without serving (exit 1 if invalid)
  pullgate --help | --version

serve options (defaults in brackets):
  --listen PATH                  socket the kubelet calls [/run/pullgate/pullgate.sock];
                                 a socket passed by systemd (LISTEN_FDS) takes precedence
  --upstream PATH                the runtime's CRI socket [/run/containerd/containerd.sock]
                                 (CRI-O: /var/run/crio/crio.sock)
  --policy FILE                  policy YAML: enabled, tenancy, keys (re-read on change)
  --cluster-id OCID              read the policy from the OKE cluster instead
  --policy-refresh DUR           how often the cluster policy is re-read [60s]
  --tenancy OCID                 tenancy owning the OCIR namespaces (with --cluster-id)
  --namespace-tenancy NS=OCID    an OCIR namespace owned by another tenancy (repeatable)
  --auth MODE                    config-file | instance-principal | workload-identity
                                 [config-file]
  --oci-config FILE              OCI config file [~/.oci/config]
  --oci-profile NAME             profile in it [DEFAULT]
  --artifacts-endpoint [REGION=]URL   Artifacts API endpoint (repeatable, per region)
  --vault-endpoint URL           Vault management endpoint for every key
  --containerengine-endpoint URL Container Engine API endpoint
  --metrics-listen HOST:PORT     /metrics, /healthz, /readyz [0.0.0.0:9464]
  --mode enforce|audit           audit forwards would-be denials and logs them [enforce]
  --decision-timeout DUR         fail closed after this long per decision [20s]
  --image-status-gate on|off     answer ImageStatus 'not present' for OCIR images no pod
                                 without break-glass may use, so the kubelet pulls [on]
  --allow-cache-ttl DUR          reuse a signature allow verdict this long [5m]
  --deny-cache-ttl DUR           reuse a signature deny verdict this long [30s]
  --verdict-cache-size N         signature verdicts remembered, least recent go [4096]
  --key-cache-ttl DUR            reuse a Vault key version's public key and state [5m]
  --log-level LEVEL              fatal|error|warn|info|debug|trace|silent [info]
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === "serve") return runServe(rest);
  if (command === "check-policy") return runCheckPolicy(rest);
  if (command === "check") {
    const { runCheck } = await import("./check");
    return runCheck(rest);
  }
  throw new UsageError(`unknown command "${command}"; try pullgate --help`);
}

async function runServe(args: readonly string[]): Promise<number> {
  if (args.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = parseServeOptions(args);
  const logger = createLogger(options.logLevel);
  routeConsoleToLog(logger);
  const running = await serve(options, { logger });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  await running.close();
  return 0;
}

/**
 * Validates a policy file the way `serve` would load it. The DaemonSet's policy sync runs it
 * before it puts a ConfigMap's policy on the node, so a bad edit never reaches the file a
 * rebooting node's pullgate reads at start-up.
 */
async function runCheckPolicy(args: readonly string[]): Promise<number> {
  const [file, ...extra] = args;
  if (file === undefined || extra.length > 0) {
    throw new UsageError("usage: pullgate check-policy FILE");
  }
  const policy = await loadPolicyFile(file);
  const state = policy.enabled ? "enabled" : "disabled";
  process.stdout.write(`${file}: valid (${state}, ${policy.keys.length} keys)\n`);
  return 0;
}

function version(): string {
  // Resolved at run time so the compiled file works from dist/ and from the image alike.
  const manifest = require("../../package.json") as { version: string };
  return manifest.version;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`pullgate: ${message}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
