import type { Logger } from "pino";
import { decision } from "../decision/decision";
import type { DecisionInputs, JudgedPull, PullFacts } from "../decision/decide";
import type { VerdictLookup } from "../decision/verdict-cache";
import type { RegistryHost } from "../ocir/registry-host";
import type { Policy } from "../policy/policy";
import type { KeySource, SignatureSource } from "../signatures/sources";

/**
 * Runs the decision table for a CRI call: under the policy in force, with the decision's
 * own deadline joined to the caller's cancellation, and failing closed if the decision
 * itself breaks. Every gate that judges an image goes through here, so PullImage and
 * ImageStatus can never judge the same image by different rules.
 */

/** Where the policy in force comes from; undefined until a first policy loads. */
export interface PolicySource {
  current(): Policy | undefined;
}

/** Decides a pull: the plain decision table (`decidePull`) has this shape. */
export type PullDecider = (facts: PullFacts, inputs: DecisionInputs) => Promise<JudgedPull>;

/** What a runner needs. */
export interface DecisionRunnerOptions {
  policy: PolicySource;
  classifyHost(hostname: string): RegistryHost;
  signatures: SignatureSource;
  keys: KeySource;
  decide: PullDecider;
  /** Remembered signature verdicts, shared by every gate; none means always ask OCI. */
  verdicts?: VerdictLookup;
  decisionTimeoutMs: number;
  logger: Logger;
}

/** Runs decisions for the gates. */
export class DecisionRunner {
  constructor(private readonly options: DecisionRunnerOptions) {}

  /** Decides `facts`; never throws, and an internal fault is a fail-closed denial. */
  async run(facts: PullFacts, callerSignal: AbortSignal): Promise<JudgedPull> {
    const { options } = this;
    const signal = AbortSignal.any([
      callerSignal,
      AbortSignal.timeout(options.decisionTimeoutMs),
    ]);
    const inputs: DecisionInputs = {
      policy: options.policy.current(),
      classifyHost: options.classifyHost,
      signatures: options.signatures,
      keys: options.keys,
      signal,
    };
    if (options.verdicts !== undefined) inputs.verdicts = options.verdicts;
    try {
      return await options.decide(facts, inputs);
    } catch (err) {
      // The decision function promises not to throw; if it does, that is a fault of ours,
      // and the call fails closed.
      options.logger.error({ err }, "decision failed unexpectedly; denying");
      return { decision: decision("ocir-unreachable", "internal error while deciding") };
    }
  }
}
