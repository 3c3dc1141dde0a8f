import { BREAK_GLASS_ANNOTATION } from "../config/defaults";
import type { RegistryHost } from "../ocir/registry-host";
import { type Policy, tenancyForNamespace } from "../policy/policy";
import { parseImageReference } from "../reference/image-reference";
import { judgeSignatures } from "../signatures/judge";
import type { KeySource, SignatureSource } from "../signatures/sources";
import { type Decision, decision } from "./decision";
import type { VerdictLookup } from "./verdict-cache";

/**
 * The decision table for one PullImage, evaluated in order; the first row that matches
 * decides. Everything it needs arrives as plain values or behind the two source
 * interfaces, so each row can be exercised without a network.
 */

/** What the kubelet told the runtime about the pull. */
export interface PullFacts {
  /** The image reference as the kubelet sent it. */
  image: string;
  /** The pod's annotations (`sandbox_config.annotations`); empty when no pod was named. */
  podAnnotations: Readonly<Record<string, string>>;
}

/** What a decision consults. */
export interface DecisionInputs {
  /** The policy in force, or undefined when none could be loaded yet. */
  policy: Policy | undefined;
  classifyHost(hostname: string): RegistryHost;
  signatures: SignatureSource;
  keys: KeySource;
  /** Aborted when the decision's own deadline passes or the caller gives up. */
  signal: AbortSignal;
  /** Remembered signature verdicts; consulted only once every pod-specific row has passed. */
  verdicts?: VerdictLookup;
}

/** A decision together with what it was about, for logs and caches. */
export interface JudgedPull {
  decision: Decision;
  /** The normalised reference, when it could be parsed. */
  reference?: string;
  /** The registry region of an OCIR image. */
  region?: string;
}

/** Decides one pull; never throws for anything a registry, Vault or a request can do. */
export async function decidePull(facts: PullFacts, inputs: DecisionInputs): Promise<JudgedPull> {
  const parsed = parseImageReference(facts.image);
  if (!parsed.ok) {
    return { decision: decision("invalid-reference", parsed.error) };
  }
  const reference = parsed.reference;
  const judged = (made: Decision, region?: string): JudgedPull =>
    region === undefined
      ? { decision: made, reference: reference.normalized }
      : { decision: made, reference: reference.normalized, region };
  const digest = reference.digest;

  const host = inputs.classifyHost(reference.hostname);
  if (host.kind === "not-ocir") {
    return judged(decision("not-ocir", `${reference.hostname} is not OCIR`, digest));
  }
  if (host.kind === "unknown-region") {
    const detail = `${reference.hostname} looks like an OCIR host but names no known region`;
    return judged(decision("unknown-ocir-region", detail, digest));
  }
  const region = host.regionId;
  const [namespace, ...repositoryParts] = reference.path.split("/");
  if (namespace === undefined || repositoryParts.length === 0) {
    const detail = "an OCIR image is <host>/<tenancy-namespace>/<repository>";
    return judged(decision("invalid-reference", detail, digest), region);
  }

  const policy = inputs.policy;
  if (policy === undefined) {
    const detail = "no image verification policy has been loaded yet";
    return judged(decision("policy-unavailable", detail, digest), region);
  }
  if (!policy.enabled) {
    return judged(decision("policy-disabled", "image verification is disabled", digest), region);
  }
  const breakGlass = facts.podAnnotations[BREAK_GLASS_ANNOTATION];
  if (breakGlass === "true") {
    const detail = `the pod carries ${BREAK_GLASS_ANNOTATION}: "true"`;
    return judged(decision("break-glass", detail, digest), region);
  }
  if (digest === undefined) {
    const detail = "OCIR images must be referenced by digest (@sha256:...), not by tag";
    return judged(decision("tag-reference", withBreakGlassHint(detail, breakGlass)), region);
  }
  if (policy.keys.length === 0) {
    return judged(decision("no-keys", "the policy names no keys", digest), region);
  }

  const repositoryName = repositoryParts.join("/");
  const query = {
    region,
    compartmentId: tenancyForNamespace(policy, namespace),
    repositoryName,
    imageDigest: digest,
  };
  const judge = (signal: AbortSignal): Promise<Decision> =>
    judgeSignaturesOf(query, policy, { ...inputs, signal });
  // The key holds the digest, never the tag, and the policy version: a verdict cannot
  // outlive the content or the policy it was made for.
  const key = {
    host: reference.hostname,
    namespace,
    repository: repositoryName,
    digest,
    policyVersion: policy.version,
  };
  const verdict = inputs.verdicts === undefined
    ? await judge(inputs.signal)
    : await inputs.verdicts.lookup(key, judge, inputs.signal);
  return judged({ ...verdict, detail: withBreakGlassHint(verdict.detail, breakGlass) }, region);
}

async function judgeSignaturesOf(
  query: { region: string; compartmentId: string; repositoryName: string; imageDigest: string },
  policy: Policy,
  inputs: DecisionInputs,
): Promise<Decision> {
  const digest = query.imageDigest;
  let records;
  try {
    records = await inputs.signatures.listSignatures(query, inputs.signal);
  } catch (error) {
    return decision("ocir-unreachable", `listing signatures failed: ${describe(error)}`, digest);
  }

  const subject = { repositoryName: query.repositoryName, imageDigest: digest };
  const judgement = await judgeSignatures(records, policy.keys, subject, inputs.keys,
    inputs.signal);
  switch (judgement.outcome) {
    case "signed":
      return decision("signed", `signed by ${judgement.record.kmsKeyId}`, digest);
    case "unreachable":
      return decision("ocir-unreachable", `Vault lookup failed: ${describe(judgement.error)}`,
        digest);
    case "untrusted-key":
      return decision("untrusted-key",
        `signed only by keys the policy does not trust (${judgement.keyIds.length})`, digest);
    case "bad-signature":
      return decision("bad-signature",
        `a signature by a trusted key does not count: ${judgement.why}`, digest);
    case "unsigned":
      return decision("unsigned", "the image has no signatures", digest);
  }
}

/** A near-miss spelling of the break-glass value is named, so the pod's owner can fix it. */
function withBreakGlassHint(detail: string, value: string | undefined): string {
  if (value === undefined || value === "true") return detail;
  const shown = JSON.stringify(value.slice(0, 20));
  return `${detail} (${BREAK_GLASS_ANNOTATION} is ${shown}; only "true" lets a pod through)`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
