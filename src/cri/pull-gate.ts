import type { Logger } from "pino";
import type { Decision } from "../decision/decision";
import { decision } from "../decision/decision";
import type { JudgedPull, PullFacts } from "../decision/decide";
import { loggedImage } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { DecisionRunner } from "./decision-runner";
import type {
  CallContext,
  ImageServiceInterceptor,
  Interception,
  UnaryMethod,
} from "./interceptor";
import { denialStatus } from "./kubelet-status";
import { decodePullImageRequest, type PullImageFields } from "./requests";

/**
 * Puts the decision table in front of PullImage: decode the few fields a decision needs,
 * decide under the decision's own deadline, record the outcome, then forward or deny.
 */

/** `enforce` denies; `audit` decides and records everything but forwards would-be denials. */
export type EnforcementMode = "enforce" | "audit";

/** What the gate needs. */
export interface PullGateOptions {
  decisions: DecisionRunner;
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

  /** Decides one decoded pull for the pod that asked. */
  private judge(request: PullImageFields, context: CallContext): Promise<JudgedPull> {
    const facts: PullFacts = {
      image: request.image.image,
      podAnnotations: Object.fromEntries(request.sandbox?.annotations ?? []),
    };
    return this.options.decisions.run(facts, context.signal);
  }

  private record(judged: JudgedPull, image: string, pod: PodIdentity, seconds: number): void {
    const { logger, metrics, mode } = this.options;
    const made: Decision = judged.decision;
    metrics.decisions.inc({ reason: made.reason, verdict: made.verdict, mode });
    metrics.decisionSeconds.observe({ verdict: made.verdict }, seconds);

    const line = {
      event: "pull-decision",
      ...pod,
      image: loggedImage(image),
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
