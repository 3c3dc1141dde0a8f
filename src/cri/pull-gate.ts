import type { Logger } from "pino";
import type { Decision } from "../decision/decision";
import { decision } from "../decision/decision";
import type { DecisionInputs, JudgedPull, PullFacts } from "../decision/decide";
import type { Metrics } from "../observability/metrics";
import type { RegistryHost } from "../ocir/registry-host";
import type { Policy } from "../policy/policy";
import type { KeySource, SignatureSource } from "../signatures/sources";
import type { CallContext, ImageServiceInterceptor, Interception, UnaryMethod } from "./interceptor";
import { denialStatus } from "./kubelet-status";
import { decodePullImageRequest, type PullImageFields } from "./requests";

/**
 * Puts the decision table in front of PullImage: decode the few fields a decision needs,
 * decide under the decision's own deadline, record the outcome, then forward or deny.
 */

/** Where the policy in force comes from; undefined until a first policy loads. */
export interface PolicySource {
  current(): Policy | undefined;
}

/** `enforce` denies; `audit` decides and records everything but forwards would-be denials. */
export type EnforcementMode = "enforce" | "audit";

/** Decides a pull; the verdict cache wraps the plain decision function with this shape. */
export type PullDecider = (facts: PullFacts, inputs: DecisionInputs) => Promise<JudgedPull>;

/** What the gate needs. */
export interface PullGateOptions {
  policy: PolicySource;
  classifyHost(hostname: string): RegistryHost;
  signatures: SignatureSource;
  keys: KeySource;
  decide: PullDecider;
  decisionTimeoutMs: number;
  mode: EnforcementMode;
  logger: Logger;
  metrics: Metrics;
}

/** The pod a pull is for, as far as the request names it. */
interface PodIdentity {
  pod?: string;
  namespace?: string;
}

/** An ImageServiceInterceptor that judges PullImage and forwards every other call. */
export class PullGate implements ImageServiceInterceptor {
  constructor(private readonly options: PullGateOptions) {}

  async beforeUnary(method: UnaryMethod, request: Buffer, context: CallContext)
    : Promise<Interception> {
    if (method !== "PullImage") return { action: "forward" };
    const started = process.hrtime.bigint();

    const decoded = decodePullImageRequest(request);
    const judged = decoded.ok
      ? await this.judge(decoded.value, context)
      : { decision: decision("invalid-reference", `undecodable request: ${decoded.error.detail}`) };
    const image = decoded.ok ? decoded.value.image.image : "";
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    this.record(judged, image, decoded.ok ? podOf(decoded.value) : {}, seconds);
    if (judged.decision.verdict === "allow" || this.options.mode === "audit") {
      return { action: "forward" };
    }
    const denied = denialStatus(image, judged.decision);
    return { action: "reject", code: denied.code, details: denied.details };
  }

  /** Decides one decoded pull under the decision deadline and the caller's cancellation. */
  private async judge(request: PullImageFields, context: CallContext): Promise<JudgedPull> {
    const { options } = this;
    const signal = AbortSignal.any([
      context.signal,
      AbortSignal.timeout(options.decisionTimeoutMs),
    ]);
    const facts: PullFacts = {
      image: request.image.image,
      podAnnotations: Object.fromEntries(request.sandbox?.annotations ?? []),
    };
    try {
      return await options.decide(facts, {
        policy: options.policy.current(),
        classifyHost: options.classifyHost,
        signatures: options.signatures,
        keys: options.keys,
        signal,
      });
    } catch (err) {
      // The decision function promises not to throw; if it does, that is a fault of ours,
      // and the pull fails closed.
      options.logger.error({ err }, "decision failed unexpectedly; denying the pull");
      return { decision: decision("ocir-unreachable", "internal error while deciding") };
    }
  }

  private record(judged: JudgedPull, image: string, pod: PodIdentity, seconds: number): void {
    const { logger, metrics, mode } = this.options;
    const made: Decision = judged.decision;
    metrics.decisions.inc({ reason: made.reason, verdict: made.verdict, mode });
    metrics.decisionSeconds.observe({ verdict: made.verdict }, seconds);

    const line = {
      event: "pull-decision",
      ...pod,
      image,
      digest: made.digest,
      reason: made.reason,
      verdict: made.verdict,
      mode,
      region: judged.region,
      detail: made.detail,
      decisionMs: Math.round(seconds * 1e4) / 10,
    };
    if (made.verdict === "deny" && mode === "audit") {
      logger.warn({ ...line, wouldDeny: true }, "pull would have been denied; forwarded (audit)");
    } else if (made.verdict === "deny") {
      logger.warn(line, "pull denied");
    } else if (made.reason === "break-glass") {
      logger.warn(line, "pull allowed by break-glass annotation, bypassing image verification");
    } else {
      logger.info(line, "pull allowed");
    }
  }
}

function podOf(request: PullImageFields): PodIdentity {
  const metadata = request.sandbox?.metadata;
  if (metadata === undefined) return {};
  return { pod: metadata.name, namespace: metadata.namespace };
}
