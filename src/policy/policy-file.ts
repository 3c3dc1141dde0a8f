import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { makePolicy, type Policy, PolicyError, policyProblems } from "./policy";

/**
 * The policy file, typically mounted from a ConfigMap:
 *
 *     enabled: true
 *     tenancy: ocid1.tenancy.oc1..aaaa...
 *     keys:
 *       - ocid1.key.oc1.phx.bbqe....aaaa...
 *     namespaces:            # optional: OCIR namespaces owned by other tenancies
 *       othernamespace: ocid1.tenancy.oc1..bbbb...
 *
 * Unknown fields are errors: a misspelt `keys` must not silently mean "no keys".
 */

const FIELDS = new Set(["enabled", "tenancy", "keys", "namespaces"]);

/** Reads and validates a policy file; throws PolicyError naming every problem. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new PolicyError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parsePolicyText(text, path);
}

/** Parses policy YAML text; `source` names it in errors. */
export function parsePolicyText(text: string, source: string): Policy {
  let document: unknown;
  try {
    document = parse(text, { uniqueKeys: true });
  } catch (err) {
    throw new PolicyError(source, [`not valid YAML: ${(err as Error).message}`]);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new PolicyError(source, ["expected a mapping with enabled, tenancy and keys"]);
  }

  const fields = document as Record<string, unknown>;
  const problems = Object.keys(fields)
    .filter((name) => !FIELDS.has(name))
    .map((name) => `unknown field "${name}" (known: ${[...FIELDS].join(", ")})`);
  const { enabled, tenancy } = fields;
  // `keys:` with nothing after it is YAML null: read it as the empty list it means.
  const keys = fields.keys ?? [];
  const namespaces = fields.namespaces ?? {};
  if (typeof enabled !== "boolean") problems.push("enabled: must be true or false");
  if (typeof tenancy !== "string") problems.push("tenancy: must be a tenancy OCID");
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string")) {
    problems.push("keys: must be a list of Vault key OCIDs");
  }
  if (!isStringMap(namespaces)) {
    problems.push("namespaces: must map OCIR namespaces to tenancy OCIDs");
  }
  if (Array.isArray(keys) && isStringMap(namespaces)) {
    // Shape checks on the parts that are well typed, so every problem is named at once.
    const content = {
      enabled: true,
      tenancy: typeof tenancy === "string" ? tenancy : "",
      keys: keys.filter((key): key is string => typeof key === "string"),
      namespaceTenancies: namespaces,
    };
    const more = policyProblems(content);
    problems.push(...(typeof tenancy === "string" ? more : more.filter(notTenancy)));
  }
  if (problems.length > 0) throw new PolicyError(source, problems);

  return makePolicy(
    {
      enabled: enabled as boolean,
      tenancy: tenancy as string,
      keys: keys as string[],
      namespaceTenancies: namespaces as Record<string, string>,
    },
    source,
  );
}

function notTenancy(problem: string): boolean {
  return !problem.startsWith("tenancy:");
}

function isStringMap(value: unknown): value is Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((entry) => typeof entry === "string");
}
