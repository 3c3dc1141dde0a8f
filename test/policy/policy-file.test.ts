import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPolicyFile, parsePolicyText } from "../../src/policy/policy-file";
import { PolicyError } from "../../src/policy/policy";

const TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancyexample0000000000000000000000000000000000";
const key = (n: number) => `ocid1.key.oc1.phx.bbqehaq3aadfa.abyhqljt${String(n).padStart(52, "0")}`;

function problemsOf(text: string): readonly string[] {
  try {
    parsePolicyText(text, "policy.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as PolicyError).problems;
  }
  throw new Error("expected the policy to be rejected");
}

describe("the policy file", () => {
  it("reads enabled, tenancy and up to five keys", () => {
    const keys = [1, 2, 3, 4, 5].map(key);
    const policy = parsePolicyText(
      `enabled: true\ntenancy: ${TENANCY}\nkeys:\n${keys.map((k) => `  - ${k}`).join("\n")}\n`,
      "policy.yaml",
    );
    expect(policy).toMatchObject({ enabled: true, tenancy: TENANCY, keys, source: "policy.yaml" });
  });

  it("reads keys: [] as a policy that names no keys", () => {
    const policy = parsePolicyText(`enabled: true\ntenancy: ${TENANCY}\nkeys: []\n`, "p");
    expect(policy.keys).toEqual([]);
  });

  // A truncated or hand-trimmed file must never mean "no keys": that lets every image in.
  it.each([
    ["missing", `enabled: true\ntenancy: ${TENANCY}\n`],
    ["empty (cut after keys:)", `enabled: true\ntenancy: ${TENANCY}\nkeys:\n`],
  ])("stops at a %s keys entry", (_, text) => {
    expect(problemsOf(text).join()).toContain("keys: must be a list of Vault key OCIDs");
  });

  it("refuses to read anything but a regular file, so a FIFO cannot hang it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pullgate-policy-"));
    try {
      const fifo = join(dir, "policy.yaml");
      execFileSync("mkfifo", [fifo]);
      await expect(loadPolicyFile(fifo)).rejects.toThrow(/not a regular file/);
      await expect(loadPolicyFile("/dev/zero")).rejects.toThrow(/not a regular file/);
      writeFileSync(join(dir, "huge.yaml"), "#".repeat(70_000));
      await expect(loadPolicyFile(join(dir, "huge.yaml"))).rejects.toThrow(/larger than/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops at a sixth key, naming the limit", () => {
    const keys = [1, 2, 3, 4, 5, 6].map(key);
    const problems = problemsOf(
      `enabled: true\ntenancy: ${TENANCY}\nkeys: [${keys.join(", ")}]\n`,
    );
    expect(problems.join()).toContain("names 6 keys; at most 5 are allowed");
  });

  it("stops at an unknown field, so a misspelt keys never means no keys", () => {
    const problems = problemsOf(`enabled: true\ntenancy: ${TENANCY}\nkey:\n  - ${key(1)}\n`);
    expect(problems.join()).toContain('unknown field "key"');
  });

  it.each([
    ["not an OCID", "mykey", 'keys[0]: "mykey" is not an OCID'],
    ["another resource type", TENANCY, "is a tenancy OCID, expected a key OCID"],
    ["a key without its vault part", "ocid1.key.oc1.phx.abyhqljtabcdefghij", "lacks the region"],
  ])("stops at a malformed key OCID (%s)", (_, value, message) => {
    const problems = problemsOf(`enabled: true\ntenancy: ${TENANCY}\nkeys: ["${value}"]\n`);
    expect(problems.join()).toContain(message);
  });

  it("names every problem at once", () => {
    const problems = problemsOf(`enabled: yes please\ntenancy: 7\nkeys: [a, a]\nextra: 1\n`);
    expect(problems).toHaveLength(6);
    expect(problems.join("\n")).toContain("listed twice");
  });

  it("rejects duplicate keys in the YAML itself", () => {
    const problems = problemsOf(`enabled: true\nenabled: false\ntenancy: ${TENANCY}\n`);
    expect(problems.join()).toContain("not valid YAML");
  });

  it("gives a new version to a changed policy and the same to an equal one", () => {
    const a = parsePolicyText(`enabled: true\ntenancy: ${TENANCY}\nkeys: [${key(1)}]`, "a");
    const b = parsePolicyText(`tenancy: ${TENANCY}\nkeys: [${key(1)}]\nenabled: true`, "b");
    const c = parsePolicyText(`enabled: true\ntenancy: ${TENANCY}\nkeys: [${key(2)}]`, "c");
    expect(a.version).toBe(b.version);
    expect(a.version).not.toBe(c.version);
  });

  it("names the file it cannot read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pullgate-policy-"));
    try {
      await expect(loadPolicyFile(join(dir, "missing.yaml"))).rejects.toThrow(/missing\.yaml/);
      writeFileSync(join(dir, "p.yaml"), `enabled: false\ntenancy: ${TENANCY}\nkeys: []\n`);
      await expect(loadPolicyFile(join(dir, "p.yaml"))).resolves.toMatchObject({ enabled: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
