import { createHash } from "node:crypto";
import { MAX_POLICY_KEYS } from "../config/defaults";
import { ocidProblem } from "./ocid";

/**
 * The cluster's image verification policy, as OKE defines it: on or off, and up to five
 * Vault master encryption keys any one of which may have signed an image.
 */
export interface Policy {
  enabled: boolean;
  /** Vault key OCIDs; empty means "any image may be pulled" (OKE's documented behaviour). */
  keys: readonly string[];
  /** The tenancy whose compartment subtree holds the repositories of an image's namespace. */
  tenancy: string;
  /** OCIR namespaces owned by another tenancy than `tenancy`, mapped to that tenancy. */
  namespaceTenancies: Readonly<Record<string, string>>;
  /** Where the policy came from, for logs: a file path or a cluster OCID. */
  source: string;
  /** A digest of the policy's content; verdicts made under one policy never serve another. */
  version: string;
}

/** The fields a policy source provides. */
export interface PolicyContent {
  enabled: boolean;
  keys: readonly string[];
  tenancy: string;
  namespaceTenancies?: Readonly<Record<string, string>>;
}

/** A policy that broke a rule, with every problem named. */
export class PolicyError extends Error {
  readonly code = "PULLGATE_POLICY_INVALID";

  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid image verification policy from ${source}: ${problems.join("; ")}`);
    this.name = "PolicyError";
  }
}

/** The tenancy that owns the repositories of an OCIR namespace under this policy. */
export function tenancyForNamespace(policy: Policy, namespace: string): string {
  return policy.namespaceTenancies[namespace] ?? policy.tenancy;
}

/** Lists every rule `content` breaks: key count and shape, tenancy shapes. */
export function policyProblems(content: PolicyContent): string[] {
  const problems: string[] = [];
  if (content.keys.length > MAX_POLICY_KEYS) {
    problems.push(`names ${content.keys.length} keys; at most ${MAX_POLICY_KEYS} are allowed`);
  }
  const seen = new Set<string>();
  content.keys.forEach((key, index) => {
    const problem = ocidProblem(key, "key");
    if (problem !== undefined) problems.push(`keys[${index}]: ${problem}`);
    if (seen.has(key)) problems.push(`keys[${index}]: "${key}" is listed twice`);
    seen.add(key);
  });
  const tenancyProblem = ocidProblem(content.tenancy, "tenancy");
  if (tenancyProblem !== undefined) problems.push(`tenancy: ${tenancyProblem}`);
  for (const [namespace, tenancy] of Object.entries(content.namespaceTenancies ?? {})) {
    const problem = ocidProblem(tenancy, "tenancy");
    if (problem !== undefined) problems.push(`namespaces.${namespace}: ${problem}`);
    if (!/^[a-z0-9][a-z0-9_-]{0,254}$/.test(namespace)) {
      problems.push(`namespaces: "${namespace}" is not an OCIR tenancy namespace`);
    }
  }
  return problems;
}

/** Checks the rules every policy obeys, whatever its source, and seals it with a version. */
export function makePolicy(content: PolicyContent, source: string): Policy {
  const problems = policyProblems(content);
  if (problems.length > 0) throw new PolicyError(source, problems);

  const keys = [...content.keys];
  const namespaceTenancies = { ...(content.namespaceTenancies ?? {}) };
  const fingerprint = {
    enabled: content.enabled,
    keys: [...keys].sort(),
    tenancy: content.tenancy,
    namespaces: Object.entries(namespaceTenancies).sort(),
  };
  const version = createHash("sha256").update(JSON.stringify(fingerprint)).digest("hex");
  return {
    enabled: content.enabled,
    keys,
    tenancy: content.tenancy,
    namespaceTenancies,
    source,
    version: version.slice(0, 16),
  };
}
