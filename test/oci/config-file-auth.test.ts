import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createApiSigningKey, type ApiSigningKey } from "../../lab/fake-oci/api-key";
import { ArtifactsSignatureSource } from "../../src/oci/artifacts-signatures";
import { configFileAuth, OciConfigError } from "../../src/oci/config-file-auth";
import { startOciWorld, type OciWorld } from "./oci-world";

let dir: string;
let world: OciWorld;
let key: ApiSigningKey;

async function configFile(name: string, profile: string, lines: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `[${profile}]\n${lines.join("\n")}\n`);
  return file;
}

function profileLines(keyFile: string, omit?: string): string[] {
  const all: Record<string, string> = {
    user: key.userId,
    fingerprint: key.fingerprint,
    key_file: keyFile,
    tenancy: key.tenancyId,
    region: "us-phoenix-1",
  };
  return Object.entries(all)
    .filter(([k]) => k !== omit)
    .map(([k, v]) => `${k}=${v}`);
}

function problem(run: () => unknown): OciConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OciConfigError);
    return error as OciConfigError;
  }
  throw new Error("expected an OciConfigError");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pullgate-oci-config-"));
  world = await startOciWorld();
  key = createApiSigningKey(world.tenancyId);
  world.fake.addApiKey(key);
  await writeFile(join(dir, "key.pem"), key.privateKeyPem, { mode: 0o600 });
  await writeFile(join(dir, "not-a-key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n");
});

afterAll(async () => {
  await world.fake.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("configFileAuth", () => {
  it("signs requests the fake OCI accepts, as the profile's user", async () => {
    const file = await configFile("good", "DEV", profileLines(join(dir, "key.pem")));
    const source = new ArtifactsSignatureSource({
      auth: configFileAuth(file, "DEV"),
      artifactsEndpoint: () => world.fake.url,
    });

    const records = await source.listSignatures(
      {
        region: "us-phoenix-1",
        compartmentId: key.tenancyId,
        repositoryName: "r",
        imageDigest: `sha256:${"0".repeat(64)}`,
      },
      AbortSignal.timeout(5000),
    );

    expect(records).toEqual([]);
  });

  it("names the file when it does not exist", () => {
    const missing = join(dir, "nope");

    const error = problem(() => configFileAuth(missing));

    expect(error.message).toBe(`OCI config file ${missing}, profile [DEFAULT]: no such file`);
    expect(error.code).toBe("oci-config-invalid");
  });

  it("names the profile when the file lacks it", async () => {
    const file = await configFile("other-profile", "DEFAULT", profileLines(join(dir, "key.pem")));

    expect(problem(() => configFileAuth(file, "PROD")).message).toBe(
      `OCI config file ${file}, profile [PROD]: no such profile`,
    );
  });

  it.each(["user", "fingerprint", "tenancy", "region", "key_file"])(
    "names a missing %s",
    async (omitted) => {
      const file = await configFile(`no-${omitted}`, "DEFAULT", [
        ...profileLines(join(dir, "key.pem"), omitted),
      ]);

      expect(problem(() => configFileAuth(file)).message).toBe(
        `OCI config file ${file}, profile [DEFAULT]: no ${omitted}`,
      );
    },
  );

  it("names a key_file that cannot be read", async () => {
    const keyFile = join(dir, "absent.pem");
    const file = await configFile("absent-key", "DEFAULT", profileLines(keyFile));

    expect(problem(() => configFileAuth(file)).message).toContain(
      `key_file ${keyFile} cannot be read (ENOENT)`,
    );
  });

  it("names a key_file that holds no usable key, without quoting it", async () => {
    const keyFile = join(dir, "not-a-key.pem");
    const file = await configFile("bad-key", "DEFAULT", profileLines(keyFile));

    const error = problem(() => configFileAuth(file));

    expect(error.message).toContain(`key_file ${keyFile} is not a PEM private key`);
    expect(error.message).not.toContain("AAAA");
  });
});
