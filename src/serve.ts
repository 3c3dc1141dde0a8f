import { existsSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import type { AuthenticationDetailsProvider } from "oci-common";
import type { Logger } from "pino";
import type { ServeOptions } from "./config/options";
import { DecisionRunner } from "./cri/decision-runner";
import { ImageStatusGate } from "./cri/image-status-gate";
import { createImageStatusAnswers } from "./cri/image-status-metrics";
import type { ImageServiceInterceptor } from "./cri/interceptor";
import { routeByMethod } from "./cri/method-router";
import { PullGate } from "./cri/pull-gate";
import { type ListenTarget, socketActivationTarget } from "./cri/listen";
import { type ImageServiceProxy, startImageServiceProxy } from "./cri/proxy";
import { decidePull } from "./decision/decide";
import { VerdictCache } from "./decision/verdict-cache";
import { ArtifactsSignatureSource } from "./oci/artifacts-signatures";
import { chooseAuth } from "./oci/auth";
import { VaultKeySource } from "./oci/vault-keys";
import { startHealthServer, type HealthServer } from "./observability/http-server";
import { createLogger } from "./observability/logger";
import { createMetrics, type Metrics } from "./observability/metrics";
import { ContainerEngineClusterPolicy } from "./oci/cluster-policy";
import { type OciAttempt, observeOciCalls } from "./oci/sdk-setup";
import {
  artifactsEndpoint,
  classifyRegistryHost,
  containerEngineEndpoint,
  findRegion,
} from "./ocir/regions";
import { vaultManagementEndpoint } from "./ocir/vault-endpoint";
import { type ClusterPolicyWatch, watchClusterPolicy } from "./policy/cluster-source";
import { parseOcid } from "./policy/ocid";
import { watchPolicyFile } from "./policy/file-source";
import { loadPolicyFile } from "./policy/policy-file";
import { PolicyStore } from "./policy/policy-store";
import type { KeySource, SignatureSource } from "./signatures/sources";

/**
 * `pullgate serve`: the policy, the OCI clients, the gate and the proxy, started in an
 * order where nothing serves the kubelet before it can decide, and stopped gracefully.
 */

/** Things a test or an embedder may supply instead of the defaults. */
export interface ServeOverrides {
  logger?: Logger;
  auth?: AuthenticationDetailsProvider;
  /** Where the proxy listens, instead of `--listen` or an inherited systemd socket. */
  listen?: ListenTarget;
}

/** A running pullgate. */
export interface RunningPullgate {
  /** The proxy's address, e.g. `unix:/run/pullgate/pullgate.sock`. */
  address: string;
  /** The metrics server's `host:port`. */
  metricsAddress: string;
  metrics: Metrics;
  policy: PolicyStore;
  /** Stops serving: calls in flight get `graceMs` to finish. */
  close(graceMs?: number): Promise<void>;
}

/** A start-up failure with a message for the operator. */
export class StartupError extends Error {
  readonly code = "PULLGATE_STARTUP";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** Starts pullgate; rejects with a message naming the problem when it cannot. */
export async function serve(
  options: ServeOptions,
  overrides: ServeOverrides = {},
): Promise<RunningPullgate> {
  const logger = overrides.logger ?? createLogger(options.logLevel);
  const metrics = createMetrics();
  const policy = new PolicyStore(logger, metrics);
  const stoppers: ((graceMs?: number) => Promise<void> | void)[] = [];

  try {
    const countOciCall = (call: OciAttempt) =>
      metrics.ociRequests.inc({ api: call.api, outcome: call.outcome });
    stoppers.push(observeOciCalls(countOciCall));
    if (options.policy.kind === "file") {
      await refuseInvalidPolicyFile(options.policy.path);
      const watch = watchPolicyFile(options.policy.path, policy);
      stoppers.push(() => watch.stop());
      await watch.firstRead;
    }
    const auth = overrides.auth ?? (await authProvider(options));
    if (options.policy.kind === "cluster") {
      const watch = watchClusterSource(options, options.policy, auth, policy);
      stoppers.push(() => watch.stop());
    }
    const interceptor = imageServiceGates(options, { policy, auth, logger, metrics });

    // The kubelet polls the runtime through pullgate every few seconds (ImageFsInfo,
    // ListImages), so the last forwarded call says whether the runtime answers.
    let runtimeUnavailable = false;
    const proxy: ImageServiceProxy = await startImageServiceProxy({
      listen: overrides.listen ??
        socketActivationTarget() ?? { kind: "path", path: options.listen },
      upstreamSocket: options.upstream,
      interceptor,
      logger,
      observer: ({ method, code, seconds }) => {
        runtimeUnavailable = code === status.UNAVAILABLE;
        metrics.upstreamRequests.inc({ method, code: String(code) });
        metrics.upstreamSeconds.observe({ method }, seconds);
      },
    });
    stoppers.unshift((graceMs?: number) => proxy.close(graceMs));

    const health: HealthServer = await startHealthServer(
      options.metricsListen,
      metrics.registry,
      () => {
        if (policy.current() === undefined) return "no image verification policy loaded";
        if (runtimeUnavailable) return `the runtime at ${options.upstream} is not answering`;
        return undefined;
      },
    );
    stoppers.push(() => health.close());

    logger.info(
      {
        event: "started",
        listen: proxy.address,
        upstream: options.upstream,
        metrics: health.address,
        mode: options.mode,
        imageStatusGate: options.imageStatusGate,
        policySource: options.policy,
      },
      "pullgate is serving the CRI image service",
    );
    return {
      address: proxy.address,
      metricsAddress: health.address,
      metrics,
      policy,
      close: async (graceMs?: number) => {
        for (const stop of stoppers.splice(0)) await stop(graceMs);
      },
    };
  } catch (error) {
    for (const stop of stoppers.splice(0)) await stop(0);
    throw error;
  }
}

/** What the gates share with the rest of pullgate. */
interface GateContext {
  policy: PolicyStore;
  auth: AuthenticationDetailsProvider;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The interceptor in front of the runtime: PullImage is decided, and ImageStatus (unless
 * turned off) hides OCIR images no pod without break-glass may use. Both share one
 * decision runner and one verdict cache, emptied whenever the policy changes.
 */
function imageServiceGates(options: ServeOptions, context: GateContext): ImageServiceInterceptor {
  const { policy, auth, logger, metrics } = context;
  const verdicts = new VerdictCache({
    ...options.verdictCache,
    lookupTimeoutMs: options.decisionTimeoutMs,
    lookups: metrics.verdictCache,
  });
  // Verdicts are keyed by policy version too; emptying the cache also frees the space.
  policy.onChange(() => verdicts.clear());
  const decisions = new DecisionRunner({
    policy,
    classifyHost: classifyRegistryHost,
    ...ociSources(options, auth),
    decide: decidePull,
    verdicts,
    decisionTimeoutMs: options.decisionTimeoutMs,
    logger,
  });
  const pullGate = new PullGate({ decisions, mode: options.mode, logger, metrics });
  if (!options.imageStatusGate) return routeByMethod({ PullImage: pullGate });
  const imageStatusGate = new ImageStatusGate({
    decisions,
    mode: options.mode,
    logger,
    answers: createImageStatusAnswers(metrics.registry),
  });
  return routeByMethod({ PullImage: pullGate, ImageStatus: imageStatusGate });
}

/** The SDK-backed signature and key sources, at the configured or public endpoints. */
export function ociSources(
  options: Pick<ServeOptions, "endpoints" | "keyCacheTtlMs">,
  auth: AuthenticationDetailsProvider,
): { signatures: SignatureSource; keys: KeySource } {
  const { endpoints } = options;
  return {
    signatures: new ArtifactsSignatureSource({
      auth,
      artifactsEndpoint: (region) =>
        endpoints.artifacts.get(region) ??
        endpoints.artifacts.get("*") ??
        artifactsEndpoint(region),
    }),
    keys: new VaultKeySource({
      auth,
      managementEndpoint: (keyId) => endpoints.vault ?? managementEndpointOf(keyId),
      cacheTtlMs: options.keyCacheTtlMs,
    }),
  };
}

/** The credentials `--auth` names; a StartupError says why they cannot be had. */
export async function authProvider(options: ServeOptions): Promise<AuthenticationDetailsProvider> {
  const settings = {
    mode: options.auth,
    profile: options.ociProfile,
    ...(options.ociConfigFile === undefined ? {} : { configFile: options.ociConfigFile }),
  };
  const chosen = await chooseAuth(settings);
  if (!chosen.ok) throw new StartupError(`--auth ${options.auth}: ${chosen.error}`);
  return chosen.provider;
}

/**
 * A policy file that is there but breaks a rule (a sixth key, an unknown field, a malformed
 * OCID) is a configuration error and stops start-up with the problems named. A file that is
 * not there yet does not: on a new node it is written after pullgate starts, and until then
 * OCIR pulls are denied `policy-unavailable`.
 */
async function refuseInvalidPolicyFile(path: string): Promise<void> {
  if (!existsSync(path)) return;
  try {
    await loadPolicyFile(path);
  } catch (error) {
    throw new StartupError((error as Error).message, { cause: error });
  }
}

/** Starts reading the cluster's policy; serving starts at once and denies OCIR until it loads. */
export function watchClusterSource(
  options: ServeOptions,
  source: { clusterId: string; refreshMs: number },
  auth: AuthenticationDetailsProvider,
  store: PolicyStore,
): ClusterPolicyWatch {
  const endpoint = options.endpoints.containerEngine ?? clusterEndpoint(source.clusterId);
  const reader = new ContainerEngineClusterPolicy(auth, endpoint, source.clusterId);
  return watchClusterPolicy(reader, store, {
    clusterId: source.clusterId,
    tenancy: options.tenancy ?? "",
    namespaceTenancies: options.namespaceTenancies,
    refreshMs: source.refreshMs,
    timeoutMs: options.decisionTimeoutMs,
  });
}

function clusterEndpoint(clusterId: string): string {
  const region = findRegion(parseOcid(clusterId)?.region ?? "");
  if (region === undefined) {
    throw new StartupError(
      `--cluster-id: no known region in "${clusterId}"; set --containerengine-endpoint`,
    );
  }
  return containerEngineEndpoint(region.id);
}

function managementEndpointOf(keyId: string): string {
  const derived = vaultManagementEndpoint(keyId);
  // Policy keys are validated at load; a key reaching here without an endpoint is misuse.
  if (!derived.ok) throw new Error(`no Vault endpoint for ${keyId}: ${derived.error}`);
  return derived.endpoint;
}
