import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestOf, startOciWorld, type OciWorld } from "../oci/oci-world";

/**
 * `pullgate check IMAGE`, run as a child process the way an operator or a CI job runs it:
 * the verdict on stdout, exit 0 for allowed and 1 for denied, and credentials asked for
 * only when the decision needs OCI.
 */

const ROOT = join(__dirname, "..", "..");
const VITE_NODE = join(ROOT, "node_modules", ".bin", "vite-node");
const CLI = join(ROOT, "src", "cli.ts");
const NAMESPACE = "axaxnpcrorw5";

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("pullgate check", () => {
  let world: OciWorld;
  let dir: string;
  let policy: string;
  let ociConfig: string;
  const signed = `phx.ocir.io/${NAMESPACE}/project01/app@${digestOf("check-signed")}`;
  const unsigned = `phx.ocir.io/${NAMESPACE}/project01/app@${digestOf("check-unsigned")}`;

  beforeAll(async () => {
    world = await startOciWorld();
    world.sign("project01/app", digestOf("check-signed"));
    dir = mkdtempSync(join(tmpdir(), "pullgate-check-"));
    policy = join(dir, "policy.yaml");
    writeFileSync(policy, `enabled: true\ntenancy: ${world.tenancyId}\n` +
      `keys:\n  - ${world.vaultKey.keyId}\n`);
    const keyFile = join(dir, "key.pem");
    writeFileSync(keyFile, world.apiKey.privateKeyPem, { mode: 0o600 });
    ociConfig = join(dir, "config");
    writeFileSync(ociConfig, ["[DEFAULT]", `user=${world.apiKey.userId}`,
      `fingerprint=${world.apiKey.fingerprint}`, `tenancy=${world.tenancyId}`,
      "region=us-phoenix-1", `key_file=${keyFile}`, ""].join("\n"));
  });

  afterAll(async () => {
    await world?.fake.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const check = (image: string, config: string, more: string[] = []): Promise<Exit> => {
    const args = [CLI, "check", image, "--policy", policy, "--oci-config", config,
      "--artifacts-endpoint", world.fake.url, "--vault-endpoint", world.fake.url, ...more];
    return new Promise((resolve) => {
      execFile(VITE_NODE, args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      });
    });
  };

  it("allows a signed image and exits 0", async () => {
    const exit = await check(signed, ociConfig);
    expect(exit).toMatchObject({
      code: 0,
      stdout: `allowed (signed): signed by ${world.vaultKey.keyId}\n`,
    });
  });

  it("denies an unsigned image with the message the kubelet would show, and exits 1", async () => {
    const exit = await check(unsigned, ociConfig);
    expect(exit.code).toBe(1);
    expect(exit.stdout).toMatch(
      /^denied: SignatureValidationFailed: image ".*" denied by pullgate \(unsigned\)/,
    );
  });

  it("prints the judged decision as JSON on request", async () => {
    const exit = await check(signed, ociConfig, ["--output", "json"]);
    expect(JSON.parse(exit.stdout)).toMatchObject({
      image: signed,
      decision: { verdict: "allow", reason: "signed" },
      region: "us-phoenix-1",
    });
  });

  it("judges an image that needs no OCI call without credentials", async () => {
    const exit = await check("docker.io/library/nginx:1.27", join(dir, "no-such-config"));
    expect(exit).toMatchObject({ code: 0, stdout: "allowed (not-ocir): docker.io is not OCIR\n" });
  });

  it("says which credentials are missing when the decision needs OCI", async () => {
    const exit = await check(signed, join(dir, "no-such-config"));
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain("no-such-config");
    expect(exit.stdout).toBe("");
  });
});
