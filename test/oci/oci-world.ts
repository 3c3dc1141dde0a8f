import { SimpleAuthenticationDetailsProvider } from "oci-common";

import { createApiSigningKey, type ApiSigningKey } from "../../lab/fake-oci/api-key";
import { regionalOcid } from "../../lab/fake-oci/ocids";
import { FakeOci, type FakeOciOptions } from "../../lab/fake-oci/server";
import {
  createVaultKey,
  signImage,
  type LocalVaultKey,
  type SignOptions,
} from "../../lab/oci-cli-signer";

/**
 * A running fake OCI with one tenancy, a user whose API key it trusts, a Vault key, and a
 * helper to sign images into it: what each OCI test starts from.
 */
export interface OciWorld {
  fake: FakeOci;
  apiKey: ApiSigningKey;
  /** Credentials for the SDK, signing as the registered user. */
  auth: SimpleAuthenticationDetailsProvider;
  tenancyId: string;
  vaultKey: LocalVaultKey;
  /** Signs `digest` in `repositoryName` (in `compartmentId`, the tenancy by default). */
  sign(
    repositoryName: string,
    imageDigest: string,
    options?: SignOptions & { compartmentId?: string; key?: LocalVaultKey; timeCreated?: Date },
  ): string;
}

/** A `sha256:` digest made from a label, distinct per label. */
export function digestOf(label: string): string {
  const hex = Buffer.from(label).toString("hex").padEnd(64, "0").slice(0, 64);
  return `sha256:${hex}`;
}

/** Starts a fake OCI and fills in the usual tenancy, user and key. */
export async function startOciWorld(options: FakeOciOptions = {}): Promise<OciWorld> {
  const fake = await FakeOci.start(options);
  const apiKey = createApiSigningKey();
  fake.addApiKey(apiKey);
  const vaultKey = createVaultKey();
  fake.addKeyVersion({
    keyId: vaultKey.keyId,
    keyVersionId: vaultKey.keyVersionId,
    vaultId: vaultKey.vaultId,
    compartmentId: apiKey.tenancyId,
    publicKeyPem: vaultKey.publicKeyPem,
  });
  const auth = new SimpleAuthenticationDetailsProvider(
    apiKey.tenancyId,
    apiKey.userId,
    apiKey.fingerprint,
    apiKey.privateKeyPem,
    null,
  );
  return {
    fake,
    apiKey,
    auth,
    tenancyId: apiKey.tenancyId,
    vaultKey,
    sign(repositoryName, imageDigest, signOptions = {}) {
      const { compartmentId = apiKey.tenancyId, key = vaultKey, timeCreated, ...rest } =
        signOptions;
      const image = {
        imageId: regionalOcid("containerimage"),
        compartmentId,
        repositoryName,
        imageDigest,
      };
      const signed = signImage(key, image, rest);
      return fake.addSignature(timeCreated ? { ...signed, timeCreated } : signed);
    },
  };
}
