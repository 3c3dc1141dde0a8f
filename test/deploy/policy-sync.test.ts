import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/**
 * The DaemonSet's policy sync copies the ConfigMap's policy to the node, but only a policy
 * pullgate accepts: a rejected edit must never become the file a rebooting node starts with.
 */

const ROOT = join(__dirname, "..", "..");
const SCRIPT = join(ROOT, "deploy", "pod", "policy-sync.sh");
const VITE_NODE = join(ROOT, "node_modules", ".bin", "vite-node");
const TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancyexample0000000000000000000000000000000000";
const KEY = "ocid1.key.oc1.phx.bbqehaq3aadfa.abyhqljtaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

describe("policy-sync.sh", () => {
  let dir: string;
  let sync: ChildProcess | undefined;
  let output = "";
  let source: string;
  let target: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pullgate-policy-sync-"));
    source = join(dir, "configmap", "policy.yaml");
    target = join(dir, "host", "policy.yaml");
    mkdirSync(join(dir, "configmap"));
    mkdirSync(join(dir, "host"));
    output = "";
  });

  afterEach(async () => {
    if (sync !== undefined && sync.exitCode === null) {
      const exited = new Promise((resolve) => sync?.once("exit", resolve));
      sync.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function start(): void {
    sync = spawn("/bin/sh", [SCRIPT], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        PULLGATE_POLICY_SOURCE: source,
        PULLGATE_POLICY_TARGET: target,
        PULLGATE_POLICY_CHECK: `${VITE_NODE} ${join(ROOT, "src", "cli.ts")} check-policy`,
        PULLGATE_POLICY_INTERVAL: "0.2",
      },
      cwd: ROOT,
    });
    sync.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    sync.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    for (let waited = 0; !check(); waited += 100) {
      if (waited > 30_000) throw new Error(`timed out waiting for ${what}; output: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const valid = (keys: string[]) =>
    `enabled: true\ntenancy: ${TENANCY}\nkeys:\n${keys.map((k) => `  - ${k}`).join("\n")}\n`;

  it("copies a valid policy to the node", async () => {
    writeFileSync(source, valid([KEY]));
    start();
    await until(() => existsSync(target), "the policy on the node");
    expect(readFileSync(target, "utf8")).toBe(valid([KEY]));
    expect(output).toContain(`policy-sync: updated ${target}`);
  });

  it("keeps the last good policy when the ConfigMap turns invalid, and says so once", async () => {
    writeFileSync(source, valid([KEY]));
    start();
    await until(() => existsSync(target), "the policy on the node");

    const sixKeys = valid(Array.from({ length: 6 }, () => KEY));
    writeFileSync(source, sixKeys);
    await until(() => output.includes("is invalid"), "the rejection");
    await new Promise((resolve) => setTimeout(resolve, 1500));

    expect(readFileSync(target, "utf8")).toBe(valid([KEY]));
    expect(output).toContain("at most 5 are allowed");
    expect(output.match(/is invalid/g)).toHaveLength(1);
    expect(existsSync(`${target}.tmp`)).toBe(false);
  });

  it("takes the next valid edit after a rejected one", async () => {
    writeFileSync(source, "enabled: maybe\n");
    start();
    await until(() => output.includes("is invalid"), "the rejection");
    expect(existsSync(target)).toBe(false);

    writeFileSync(source, valid([KEY]));
    await until(() => existsSync(target), "the policy on the node");
    expect(readFileSync(target, "utf8")).toBe(valid([KEY]));
  });
});
