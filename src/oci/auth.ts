import { homedir } from "node:os";
import { join } from "node:path";

import type { AuthenticationDetailsProvider } from "oci-common";

import {
  instancePrincipalAuth,
  type AuthResult,
  type InstancePrincipalOptions,
} from "./auth-instance-principal";
import { WorkloadIdentityProvider, workloadIdentityOptionsFromEnv } from "./auth-workload-identity";
import { configFileAuth } from "./config-file-auth";
import { errorText } from "./error-text";

/**
 * The `--auth` flag: which credentials sign pullgate's OCI calls. Workload identity and
 * instance principals are for clusters; the config file is for development and for the
 * command-line check run from a laptop or CI.
 */

export type { AuthResult } from "./auth-instance-principal";

/** The values `--auth` accepts. */
export const AUTH_MODES = ["config-file", "instance-principal", "workload-identity"] as const;

/** One of the credential modes. */
export type AuthMode = (typeof AUTH_MODES)[number];

/** The `--auth` mode named by `value`, or undefined when it names none. */
export function parseAuthMode(value: string): AuthMode | undefined {
  return AUTH_MODES.find((mode) => mode === value);
}

/** What each mode needs; only the chosen mode's part is read. */
export interface AuthSettings {
  mode: AuthMode;
  /** OCI config file; `~/.oci/config` when absent. */
  configFile?: string;
  /** Profile in the config file; `DEFAULT` when absent. */
  profile?: string;
  instancePrincipal?: InstancePrincipalOptions;
  /** The pod environment workload identity reads; `process.env` when absent. */
  env?: NodeJS.ProcessEnv;
}

/** How each mode makes its provider; tests replace them, production uses `defaultAuthFactories`. */
export interface AuthFactories {
  configFile(file: string, profile: string): AuthenticationDetailsProvider;
  instancePrincipal(options: InstancePrincipalOptions): Promise<AuthResult>;
  workloadIdentity(env: NodeJS.ProcessEnv): AuthResult;
}

/** The real providers. */
export const defaultAuthFactories: AuthFactories = {
  configFile: configFileAuth,
  instancePrincipal: (options) => instancePrincipalAuth(options),
  workloadIdentity(env) {
    const parsed = workloadIdentityOptionsFromEnv(env);
    if (!parsed.ok) return { ok: false, error: `workload identity: ${parsed.error}` };
    return { ok: true, provider: new WorkloadIdentityProvider(parsed.options) };
  },
};

/** Makes the provider `--auth` asks for, or says why it cannot (naming the mode). */
export async function chooseAuth(
  settings: AuthSettings,
  factories: AuthFactories = defaultAuthFactories,
): Promise<AuthResult> {
  switch (settings.mode) {
    case "config-file":
      return fromConfigFile(settings, factories);
    case "instance-principal":
      return factories.instancePrincipal(settings.instancePrincipal ?? {});
    case "workload-identity":
      return factories.workloadIdentity(settings.env ?? process.env);
  }
}

function fromConfigFile(settings: AuthSettings, factories: AuthFactories): AuthResult {
  const file = settings.configFile ?? join(homedir(), ".oci", "config");
  try {
    return { ok: true, provider: factories.configFile(file, settings.profile ?? "DEFAULT") };
  } catch (error) {
    // The config file reader reports file and profile, never key material.
    return { ok: false, error: errorText(error) };
  }
}
