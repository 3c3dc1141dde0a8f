import {
  InstancePrincipalsAuthenticationDetailsProviderBuilder,
  type AuthenticationDetailsProvider,
} from "oci-common";

import { errorText } from "./error-text";

/**
 * Instance principals: the node's own identity, from the certificate the instance metadata
 * service hands out, exchanged at the OCI auth service for a session token. The SDK's
 * builder does it all; this file only lets start-up choose where it looks, and turns the
 * builder's failure into a value.
 *
 * `build()` contacts the metadata service (169.254.169.254 unless `metadataBaseUrl` says
 * otherwise) at once, so nothing here runs until `instancePrincipalAuth` is called.
 */

/** Where the SDK's builder looks; both default to what it detects on an OCI instance. */
export interface InstancePrincipalOptions {
  /** Base URL of the instance metadata service (the SDK's `/opc/v2/` default when absent). */
  metadataBaseUrl?: string;
  /** OCI auth service; detected from the metadata service's region when absent. */
  federationEndpoint?: string;
}

/** The part of the SDK's builder pullgate uses; tests substitute their own. */
export interface InstancePrincipalBuilder {
  metadataBaseUrl: string;
  federationEndpoint: string;
  build(): Promise<AuthenticationDetailsProvider>;
}

/** A provider, or why the builder could not make one. */
export type AuthResult =
  | { ok: true; provider: AuthenticationDetailsProvider }
  | { ok: false; error: string };

/** Builds an instance principals provider; contacts the metadata service once. */
export async function instancePrincipalAuth(
  options: InstancePrincipalOptions = {},
  newBuilder: () => InstancePrincipalBuilder = sdkBuilder,
): Promise<AuthResult> {
  const builder = newBuilder();
  if (options.metadataBaseUrl !== undefined) builder.metadataBaseUrl = options.metadataBaseUrl;
  if (options.federationEndpoint !== undefined) {
    builder.federationEndpoint = options.federationEndpoint;
  }
  try {
    return { ok: true, provider: await builder.build() };
  } catch (error) {
    return { ok: false, error: `instance principals: ${errorText(error)}` };
  }
}

function sdkBuilder(): InstancePrincipalBuilder {
  return new InstancePrincipalsAuthenticationDetailsProviderBuilder();
}
