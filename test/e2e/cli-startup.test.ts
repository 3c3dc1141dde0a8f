import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { globalOcid, vaultKeyOcids } from "../../lab/fake-oci/ocids";

/**
 * The real `pullgate serve` command, run as a child process, refuses to start on a policy
 * file it cannot trust and says why: exit code 1 and one line naming the problem. The OCI
 * config file named on the command line does not exist, so a message about the policy also
 * proves the policy is checked before anything else.
 */

const ROOT = join(__dirname, "..", "..");
const VITE_NODE = join(ROOT, "node_modules", ".bin", "vite-node");
const CLI = join(ROOT, "src", "cli.ts");

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("pullgate serve start-up with a bad policy file", () => {
  const dir = mkdtempSync(join(tmpdir(), "pullgate-cli-"));
  const tenancy = globalOcid("tenancy");

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes a policy file with `lines`, runs `pullgate serve` on it, and waits for its exit. */
  const serveWith = (name: string, lines: string[]): Promise<Exit> => {
    const policy = join(dir, `${name}.yaml`);
    writeFileSync(policy, `${lines.join("\n")}\n`);
    const args = [
      CLI, "serve",
      "--policy", policy,
      "--listen", join(dir, `${name}.sock`),
      "--upstream", join(dir, "no-runtime.sock"),
      "--oci-config", join(dir, "no-oci-config"),
      "--metrics-listen", "127.0.0.1:0",
    ];
    return new Promise((resolve) => {
      execFile(VITE_NODE, args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      });
    });
  };

  const keys = (count: number): string[] =>
    Array.from({ length: count }, () => `  - ${vaultKeyOcids().keyId}`);

  it.concurrent("exits 1 and says a policy names more than five keys", async () => {
    const exit = await serveWith("six-keys", [
      "enabled: true", `tenancy: ${tenancy}`, "keys:", ...keys(6),
    ]);

    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/^pullgate: invalid image verification policy from .*six-keys/);
    expect(exit.stderr).toContain("names 6 keys; at most 5 are allowed");
    expect(exit.stdout).not.toContain("pullgate is serving");
  });

  it.concurrent("accepts five keys, then stops at the missing OCI config", async () => {
    const exit = await serveWith("five-keys", [
      "enabled: true", `tenancy: ${tenancy}`, "keys:", ...keys(5),
    ]);

    expect(exit.code).toBe(1);
    expect(exit.stderr).not.toContain("policy");
    expect(exit.stderr).toMatch(/^pullgate: --auth config-file: /);
  });

  it.concurrent("exits 1 and names a malformed key OCID", async () => {
    const malformed = "ocid1.key.oc1.phx.not-a-vault-key";
    const exit = await serveWith("malformed-key", [
      "enabled: true", `tenancy: ${tenancy}`, "keys:", ...keys(1), `  - ${malformed}`,
    ]);

    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/^pullgate: invalid image verification policy from .*malformed/);
    expect(exit.stderr).toContain(`"${malformed}"`);
    expect(exit.stdout).not.toContain("pullgate is serving");
  });
});
