/**
 * The outcome of one PullImage decision. A decision is a value with a closed set of reason
 * codes; turning it into what the kubelet receives happens in exactly one place
 * (`src/cri/kubelet-status.ts`).
 */

/** Every reason a PullImage can be forwarded or denied for, in decision-table order. */
export const REASONS = [
  "invalid-reference",
  "not-ocir",
  "unknown-ocir-region",
  "policy-unavailable",
  "policy-disabled",
  "break-glass",
  "tag-reference",
  "no-keys",
  "signed",
  "ocir-unreachable",
  "untrusted-key",
  "bad-signature",
  "unsigned",
] as const;

/** A reason code from the decision table. */
export type Reason = (typeof REASONS)[number];

/** Whether the pull goes on to the runtime. */
export type Verdict = "allow" | "deny";

/** How a denial is reported: a policy denial, or a failure to get an answer (fail closed). */
export type DenialKind = "policy" | "unavailable";

/** A judgement on one image for one pod. `detail` is a human sentence, never a secret. */
export interface Decision {
  verdict: Verdict;
  reason: Reason;
  detail: string;
  /** The digest that was judged, when the reference carried one. */
  digest?: string;
}

const ALLOW_REASONS: ReadonlySet<Reason> = new Set<Reason>([
  "not-ocir",
  "policy-disabled",
  "break-glass",
  "no-keys",
  "signed",
]);

/** The verdict each reason code implies; a decision never pairs a reason with the other. */
export function verdictFor(reason: Reason): Verdict {
  return ALLOW_REASONS.has(reason) ? "allow" : "deny";
}

/** Denials that mean "could not get an answer", reported as RegistryUnavailable. */
export function denialKind(reason: Reason): DenialKind {
  return reason === "ocir-unreachable" || reason === "policy-unavailable"
    ? "unavailable"
    : "policy";
}

/** Builds a decision whose verdict follows from its reason. */
export function decision(reason: Reason, detail: string, digest?: string): Decision {
  const made: Decision = { verdict: verdictFor(reason), reason, detail };
  if (digest !== undefined) made.digest = digest;
  return made;
}
