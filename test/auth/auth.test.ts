import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AuthenticationDetailsProvider } from "oci-common";
import { afterAll, describe, expect, it } from "vitest";

import {
  AUTH_MODES,
  chooseAuth,
  defaultAuthFactories,
  parseAuthMode,
  type AuthFactories,
} from "../../src/oci/auth";
import { WorkloadIdentityProvider } from "../../src/oci/auth-workload-identity";

function stubProvider(name: string): AuthenticationDetailsProvider {
  return { getKeyId: async () => name, getPrivateKey: () => "", getPassphrase: () => null };
}

/** Factories that record which one ran with what; none touches the network. */
function recordingFactories(calls: string[]): AuthFactories {
  return {
    configFile: (file, profile) => {
      calls.push(`config-file ${file} ${profile}`);
      return stubProvider("config-file");
    },
    instancePrincipal: async (options) => {
      calls.push(`instance-principal ${options.metadataBaseUrl ?? "default"}`);
      return { ok: true, provider: stubProvider("instance-principal") };
    },
    workloadIdentity: (env) => {
      calls.push(`workload-identity ${env.KUBERNETES_SERVICE_HOST ?? "none"}`);
      return { ok: true, provider: stubProvider("workload-identity") };
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), "pullgate-auth-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("--auth", () => {
  it("accepts exactly the three modes", () => {
    expect(AUTH_MODES.map(parseAuthMode)).toEqual([...AUTH_MODES]);
    expect(parseAuthMode("instance-principals")).toBeUndefined();
    expect(parseAuthMode("")).toBeUndefined();
  });

  it.each([
    [
      { mode: "config-file", configFile: "/etc/oci/config", profile: "DEV" },
      "config-file /etc/oci/config DEV",
    ],
    [{ mode: "instance-principal" }, "instance-principal default"],
    [
      { mode: "workload-identity", env: { KUBERNETES_SERVICE_HOST: "10.96.0.1" } },
      "workload-identity 10.96.0.1",
    ],
  ] as const)("builds only the provider %o asks for", async (settings, call) => {
    const calls: string[] = [];
    const built = await chooseAuth(settings, recordingFactories(calls));
    expect(calls).toEqual([call]);
    expect(built.ok && (await built.provider.getKeyId())).toBe(settings.mode);
  });

  it("reports a config file that does not exist by its path, as a value", async () => {
    const missing = join(dir, "no-such-config");
    const built = await chooseAuth({ mode: "config-file", configFile: missing });
    expect(built).toMatchObject({ ok: false, error: expect.stringContaining(missing) });
  });

  it("reports workload identity outside a pod as a value", async () => {
    const built = await chooseAuth({ mode: "workload-identity", env: {} });
    expect(built).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^workload identity: KUBERNETES_SERVICE_HOST/),
    });
  });

  it("makes a workload identity provider from a pod environment without calling it", async () => {
    const built = await chooseAuth(
      { mode: "workload-identity", env: { KUBERNETES_SERVICE_HOST: "127.0.0.1" } },
      defaultAuthFactories,
    );
    expect(built.ok && built.provider).toBeInstanceOf(WorkloadIdentityProvider);
  });
});
