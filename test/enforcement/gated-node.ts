import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { KubeletClient } from "../../lab/kubelet-client";
import { createVaultKey, signImage, type LocalVaultKey } from "../../lab/oci-cli-signer";
import { DecisionRunner } from "../../src/cri/decision-runner";
import { ImageStatusGate } from "../../src/cri/image-status-gate";
import { createImageStatusAnswers } from "../../src/cri/image-status-metrics";
import { routeByMethod } from "../../src/cri/method-router";
import { startImageServiceProxy, type ImageServiceProxy } from "../../src/cri/proxy";
import { PullGate, type EnforcementMode } from "../../src/cri/pull-gate";
import { decidePull } from "../../src/decision/decide";
import { VerdictCache } from "../../src/decision/verdict-cache";
import { createMetrics, type Metrics } from "../../src/observability/metrics";
import { classifyRegistryHost } from "../../src/ocir/regions";
import { makePolicy, type Policy } from "../../src/policy/policy";
import { PolicyStore } from "../../src/policy/policy-store";
import { captureLogs } from "../cri/fixtures/log-capture";
import { encode } from "../cri/fixtures/cri-messages";
import { FakeRuntime } from "../cri/fixtures/fake-runtime";
import { MemoryKeys, MemorySignatures } from "../support/memory-sources";

/**
 * A node in miniature: pullgate's real proxy and gates in front of a fake runtime, with
 * in-memory signature and key sources behind the product's interfaces. The fake runtime
 * reports whatever image a test puts on it, so each ImageStatus path can be driven exactly.
 */

export const TENANCY =
  "ocid1.tenancy.oc1..aaaaaaaatenancyexample0000000000000000000000000000000000";
export const NAMESPACE = "axaxnpcrorw5";
export const BREAK_GLASS = { "oracle.image-policy.k8s.io/break-glass": "true" };

/** A `sha256:` digest made from a label. */
export function digestOf(label: string): string {
  return `sha256:${Buffer.from(label).toString("hex").padEnd(64, "0").slice(0, 64)}`;
}

/** `phx.ocir.io/<ns>/<repository>@<digest>` */
export function ocirImage(repository: string, digest: string): string {
  return `phx.ocir.io/${NAMESPACE}/${repository}@${digest}`;
}

/** An image as the fake runtime reports it. */
export interface StoredImage {
  id: string;
  repoTags?: string[];
  repoDigests?: string[];
}

/** Options of a gated node. */
export interface GatedNodeOptions {
  mode?: EnforcementMode;
  imageStatusGate?: boolean;
  allowTtlMs?: number;
  denyTtlMs?: number;
  /** Whether a first policy is in force at start; true by default. */
  loadPolicy?: boolean;
}

/** A running gated node. */
export interface GatedNode {
  runtime: FakeRuntime;
  kubelet: KubeletClient;
  signatures: MemorySignatures;
  keys: MemoryKeys;
  trustedKey: LocalVaultKey;
  policy: PolicyStore;
  verdicts: VerdictCache;
  metrics: Metrics;
  logs: ReturnType<typeof captureLogs>;
  socket: string;
  /** Signs `repository@digest` with the trusted key. */
  sign(repository: string, digest: string): void;
  /** Makes the fake runtime report `image` (or nothing) for every ImageStatus. */
  store(image: StoredImage | undefined): void;
  /** Puts a policy in force. */
  setPolicy(content?: Partial<{ enabled: boolean; keys: string[] }>): Policy;
  stop(): Promise<void>;
}

/** Starts a gated node in a temp dir. */
export async function startGatedNode(options: GatedNodeOptions = {}): Promise<GatedNode> {
  const dir = await mkdtemp(join(tmpdir(), "pullgate-enforcement-"));
  const runtime = await FakeRuntime.start(dir);
  const logs = captureLogs();
  const metrics = createMetrics({ defaultMetrics: false });
  const policy = new PolicyStore(logs.logger, metrics);
  const trustedKey = createVaultKey();
  const signatures = new MemorySignatures();
  const keys = new MemoryKeys();
  keys.add(trustedKey);
  const verdicts = new VerdictCache({
    allowTtlMs: options.allowTtlMs ?? 60_000,
    denyTtlMs: options.denyTtlMs ?? 60_000,
    maxEntries: 100,
    lookupTimeoutMs: 5000,
    lookups: metrics.verdictCache,
  });
  policy.onChange(() => verdicts.clear());
  const decisions = new DecisionRunner({
    policy,
    classifyHost: classifyRegistryHost,
    signatures,
    keys,
    decide: decidePull,
    verdicts,
    decisionTimeoutMs: 5000,
    logger: logs.logger,
  });
  const mode = options.mode ?? "enforce";
  const statusGate = new ImageStatusGate({
    decisions,
    mode,
    logger: logs.logger,
    answers: createImageStatusAnswers(metrics.registry),
  });
  const socket = join(dir, "pullgate.sock");
  const proxy: ImageServiceProxy = await startImageServiceProxy({
    listen: { kind: "path", path: socket },
    upstreamSocket: runtime.socket,
    interceptor: routeByMethod({
      PullImage: new PullGate({ decisions, mode, logger: logs.logger, metrics }),
      ...((options.imageStatusGate ?? true) ? { ImageStatus: statusGate } : {}),
    }),
    logger: logs.logger,
  });
  const kubelet = new KubeletClient({ socket, timeoutMs: 20_000 });

  const node: GatedNode = {
    runtime,
    kubelet,
    signatures,
    keys,
    trustedKey,
    policy,
    verdicts,
    metrics,
    logs,
    socket,
    sign(repository, digest) {
      signatures.add(
        signImage(trustedKey, {
          imageId: "ocid1.containerimage.oc1.phx.0.tenancy.aaaaaaaaimage",
          compartmentId: TENANCY,
          repositoryName: repository,
          imageDigest: digest,
        }),
      );
    },
    store(image) {
      runtime.answer("ImageStatus", () => ({
        response: encode(
          "ImageStatusResponse",
          image === undefined
            ? {}
            : {
                image: {
                  id: image.id,
                  repo_tags: image.repoTags ?? [],
                  repo_digests: image.repoDigests ?? [],
                  size: 1234,
                  uid: { value: 1000 },
                },
              },
        ),
      }));
    },
    setPolicy(content = {}) {
      const made = makePolicy(
        { enabled: true, keys: [trustedKey.keyId], tenancy: TENANCY, ...content },
        "test",
      );
      policy.confirm(made);
      return made;
    },
    async stop() {
      kubelet.close();
      await proxy.close(1000);
      await runtime.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (options.loadPolicy ?? true) node.setPolicy();
  return node;
}
