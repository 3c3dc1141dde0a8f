import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics";
import { type Policy, PolicyError } from "./policy";

/**
 * The policy in force on this node. Sources confirm a policy (new or unchanged) or report
 * a failure; a failure never removes the last good policy, and until a first policy is
 * confirmed there is none (OCIR pulls are then denied `policy-unavailable`).
 *
 * Every failed load counts in `pullgate_policy_refresh_failures_total`; the log gets one
 * error line per distinct problem (a source retrying every few seconds would otherwise
 * bury everything else) and one line when the source recovers.
 */
export class PolicyStore {
  private policy: Policy | undefined;
  private confirmedAt = 0;
  private failing: string | undefined;
  private readonly listeners: ((policy: Policy) => void)[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    metrics.policyLoaded.set(0);
    metrics.policyAge = () => this.ageSeconds();
  }

  /** The policy in force, or undefined before the first one. */
  current(): Policy | undefined {
    return this.policy;
  }

  /** Seconds since the source last confirmed the policy in force. */
  ageSeconds(): number | undefined {
    return this.policy === undefined ? undefined : (this.now() - this.confirmedAt) / 1000;
  }

  /** Calls `listener` whenever a policy with different content comes into force. */
  onChange(listener: (policy: Policy) => void): void {
    this.listeners.push(listener);
  }

  /** Records that the source answered with `policy`. */
  confirm(policy: Policy): void {
    const previous = this.policy;
    this.confirmedAt = this.now();
    this.policy = policy;
    if (this.failing !== undefined) {
      this.failing = undefined;
      this.logger.info(
        { event: "policy-source-recovered", source: policy.source, version: policy.version },
        "policy source answers again",
      );
    }
    if (previous?.version === policy.version) return;

    this.metrics.policyLoaded.set(1);
    this.metrics.policyKeys.set(policy.keys.length);
    // OKE's documented meaning of an enabled policy without keys is "allow every image";
    // legitimate, but rarely what the operator meant, so it is said at warn.
    const allowsAll = policy.enabled && policy.keys.length === 0;
    this.logger[allowsAll ? "warn" : "info"](
      {
        event: "policy-changed",
        source: policy.source,
        version: policy.version,
        previousVersion: previous?.version,
        enabled: policy.enabled,
        keys: policy.keys,
      },
      `image verification policy ${previous === undefined ? "loaded" : "changed"}` +
        (allowsAll ? "; it is enabled but names no keys, so every OCIR image is allowed" : ""),
    );
    for (const listener of this.listeners) listener(policy);
  }

  /** Records that the source could not give a valid policy; the last good one stays. */
  fail(source: string, error: unknown): void {
    this.metrics.policyRefreshFailures.inc();
    const problem = error instanceof Error ? error.message : String(error);
    const repeated = problem === this.failing;
    this.failing = problem;

    const kept = this.policy;
    const fields = {
      event: "policy-refresh-failed",
      source,
      err: error,
      ...(error instanceof PolicyError ? { problems: error.problems } : {}),
      keptVersion: kept?.version,
      keptAgeSeconds: this.ageSeconds(),
    };
    const message = kept === undefined
      ? "no image verification policy could be loaded; OCIR pulls are denied until one loads"
      : error instanceof PolicyError
        ? "invalid image verification policy rejected; keeping the last good policy"
        : "policy refresh failed; keeping the last good policy";
    if (repeated) this.logger.debug(fields, message);
    else this.logger.error(fields, message);
  }
}
