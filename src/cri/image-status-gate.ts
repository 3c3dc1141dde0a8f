import type { Logger } from "pino";
import type { Counter } from "prom-client";
import { BREAK_GLASS_ANNOTATION } from "../config/defaults";
import type { Decision } from "../decision/decision";
import { loggedImage } from "../observability/logger";
import { parseImageReference } from "../reference/image-reference";
import type { DecisionRunner } from "./decision-runner";
import type { EnforcementMode } from "./pull-gate";
import { decodeImageStatusResponse, type ReportedImage } from "./image-status-response";
import type { ImageStatusAnswer } from "./image-status-metrics";
import type {
  CallContext,
  ImageServiceInterceptor,
  Interception,
  UnaryMethod,
} from "./interceptor";
import { decodeImageStatusRequest, type ImageSpecFields } from "./requests";
import { imageNotPresentResponse } from "./responses";

/**
 * The kubelet asks ImageStatus before every container start and skips PullImage when the
 * runtime says the image is present. Without this gate, an image pulled once (by a
 * break-glass pod, before the policy was enabled, or by hand) would serve every later pod
 * unchecked. The gate says "present" only for an image that a pod without break-glass may
 * use under the policy in force; otherwise it answers "not present", the kubelet calls
 * PullImage with the pod's own context, and the pull gate decides for that pod.
 * docs/image-status-gate.md explains each kubelet path this touches.
 */

/**
 * Most names of one found image judged per call. An image has a name per tag and digest it
 * was pulled under; a bound keeps the work per call small whatever the runtime reports.
 */
export const MAX_NAMES_JUDGED = 16;

/** What the gate needs. */
export interface ImageStatusGateOptions {
  decisions: DecisionRunner;
  /** In audit mode the true answer is given, and what would have been hidden is logged. */
  mode: EnforcementMode;
  logger: Logger;
  /** Counts answers by kind. */
  answers?: Counter<"answer">;
}

/** What beforeUnary learnt about a forwarded call, so afterUnary need not learn it again. */
interface Forwarded {
  spec: ImageSpecFields;
  /** The decision on the asked name, when beforeUnary made one. */
  asked?: Decision;
}

/** An ImageServiceInterceptor for ImageStatus. */
export class ImageStatusGate implements ImageServiceInterceptor {
  /** Keyed by the call's context, which the proxy hands to both halves of one call. */
  private readonly forwarded = new WeakMap<CallContext, Forwarded>();

  constructor(private readonly options: ImageStatusGateOptions) {}

  async beforeUnary(method: UnaryMethod, request: Buffer, context: CallContext)
    : Promise<Interception> {
    if (method !== "ImageStatus") return { action: "forward" };
    const decoded = decodeImageStatusRequest(request);
    if (!decoded.ok) {
      // The PullImage that follows is decoded by the same rules and denied with a reason.
      const why = `undecodable request: ${decoded.error.detail}`;
      return this.options.mode === "audit" ? { action: "forward" } : this.notPresent("", why);
    }
    const spec = decoded.value.image;
    if (carriesBreakGlass(spec)) {
      this.answered("break-glass");
      this.options.logger.warn(
        { event: "image-status", image: loggedImage(spec.image), answer: "break-glass" },
        "image status forwarded for a break-glass pod, bypassing image verification",
      );
      return { action: "forward" };
    }
    // Audit mode never hides an image: the runtime answers, and afterUnary logs what an
    // enforcing gate would have hidden.
    if (this.options.mode === "audit") {
      this.forwarded.set(context, { spec });
      return { action: "forward" };
    }

    const asked = await this.usable(spec.image, context);
    // A reference the grammar refuses may still be an image ID to the runtime: ask it,
    // and judge the image it finds by that image's own names (afterUnary).
    if (asked.verdict === "allow" || asked.reason === "invalid-reference") {
      this.forwarded.set(context, { spec, asked });
      return { action: "forward" };
    }
    return this.notPresent(spec.image, `${asked.reason}: ${asked.detail}`);
  }

  async afterUnary(method: UnaryMethod, request: Buffer, response: Buffer, context: CallContext)
    : Promise<Buffer> {
    if (method !== "ImageStatus") return response;
    const earlier = this.forwarded.get(context);
    this.forwarded.delete(context);
    let spec = earlier?.spec;
    if (spec === undefined) {
      const decoded = decodeImageStatusRequest(request);
      if (!decoded.ok) return this.hidden("", "undecodable request", response);
      spec = decoded.value.image;
    }
    if (carriesBreakGlass(spec)) return response;

    const reported = decodeImageStatusResponse(response);
    if (!reported.ok) return this.hidden(spec.image, "undecodable runtime answer", response);
    const found = reported.value;
    if (found === undefined) {
      this.answered("forwarded");
      return response;
    }
    if (await this.anyNameUsable(spec.image, found, context, earlier?.asked)) {
      this.answered("forwarded");
      return response;
    }
    const why = "no name of the image the runtime found may be used";
    return this.hidden(spec.image, why, response);
  }

  /**
   * Whether the image the runtime found may be used by a pod without break-glass: the name
   * the request asked for when the runtime found it by that name, else any of its names.
   * The runtime finds images by ID and ID prefix too, so the asked name alone proves nothing.
   */
  private async anyNameUsable(
    asked: string,
    found: ReportedImage,
    context: CallContext,
    askedDecision: Decision | undefined,
  ): Promise<boolean> {
    const names = [...new Set([...found.repoTags, ...found.repoDigests])];
    const parsed = parseImageReference(asked);
    if (parsed.ok && names.includes(parsed.reference.normalized)) {
      const decided = askedDecision ?? (await this.usable(asked, context));
      return decided.verdict === "allow";
    }
    for (const name of names.slice(0, MAX_NAMES_JUDGED)) {
      if ((await this.usable(name, context)).verdict === "allow") return true;
    }
    return false;
  }

  /** The decision for a pod without break-glass; signature verdicts come from the cache. */
  private async usable(image: string, context: CallContext): Promise<Decision> {
    const judged = await this.options.decisions.run({ image, podAnnotations: {} },
      context.signal);
    return judged.decision;
  }

  private notPresent(image: string, why: string): Interception {
    this.logHidden(image, why);
    return { action: "reply", response: imageNotPresentResponse() };
  }

  /** The answer that hides the image, or in audit mode the runtime's own answer. */
  private hidden(image: string, why: string, response: Buffer): Buffer {
    if (this.options.mode === "audit") {
      this.wouldHide(image, why);
      return response;
    }
    this.logHidden(image, why);
    return imageNotPresentResponse();
  }

  private logHidden(image: string, why: string): void {
    this.answered("not-present");
    this.options.logger.debug(
      { event: "image-status", image: loggedImage(image), answer: "not-present", why },
      "image status answered 'not present' so the kubelet pulls and pullgate decides",
    );
  }

  private wouldHide(image: string, why: string): void {
    this.answered("audit-forwarded");
    this.options.logger.warn(
      {
        event: "image-status",
        image: loggedImage(image),
        answer: "forwarded",
        wouldHide: true,
        mode: "audit",
        why,
      },
      "image status would have answered 'not present'; forwarded (audit)",
    );
  }

  private answered(answer: ImageStatusAnswer): void {
    this.options.answers?.inc({ answer });
  }
}

/**
 * Recent kubelets copy the pod's annotations into the ImageSpec of ImageStatus; they come
 * from the same pod annotations as the sandbox config of PullImage, so trusting the exact
 * value here grants nothing a pull would not. Only this call is answered: nothing is
 * remembered, so no other pod gains from it.
 */
function carriesBreakGlass(spec: ImageSpecFields): boolean {
  return spec.annotations.get(BREAK_GLASS_ANNOTATION) === "true";
}
