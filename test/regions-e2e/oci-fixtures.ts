import { renameSync, writeFileSync } from "node:fs";

import { globalOcid, vaultKeyOcids } from "../../lab/fake-oci/ocids";
import { createVaultKey, type LocalVaultKey } from "../../lab/oci-cli-signer";
import { digestOf, type OciWorld } from "../oci/oci-world";

/** Shared test data: the OCIR namespace, images and policy files of these tests. */

/** The OCIR namespace the world's tenancy owns. */
export const NAMESPACE = "axaxnpcrorw5";

/** The repository every test image lives in. */
export const REPOSITORY = "project01/web";

/** A phx image reference and its digest, distinct per label. */
export function phxImage(label: string): { image: string; digest: string } {
  const digest = digestOf(label);
  return { image: `phx.ocir.io/${NAMESPACE}/${REPOSITORY}@${digest}`, digest };
}

/** A second Vault key, known to the fake's Vault, that signs nothing unless asked. */
export function addSecondKey(world: OciWorld): LocalVaultKey {
  const key = createVaultKey();
  world.fake.addKeyVersion({
    keyId: key.keyId,
    keyVersionId: key.keyVersionId,
    vaultId: key.vaultId,
    compartmentId: world.tenancyId,
    publicKeyPem: key.publicKeyPem,
  });
  return key;
}

/** Key OCIDs shaped correctly but unknown to anyone: padding for a sixth key. */
export function spareKeyIds(count: number): string[] {
  return Array.from({ length: count }, () => vaultKeyOcids().keyId);
}

/** A tenancy the world's fake does not hold. */
export function otherTenancy(): string {
  return globalOcid("tenancy");
}

/**
 * Writes a policy file by rename, as the DaemonSet's policy sync does, so the poller never
 * reads half a file.
 */
export function writePolicyFile(
  path: string,
  policy: { enabled?: boolean; tenancy: string; keys: readonly string[] },
): void {
  const lines = [
    `enabled: ${policy.enabled ?? true}`,
    `tenancy: ${policy.tenancy}`,
    policy.keys.length === 0 ? "keys: []" : "keys:",
    ...policy.keys.map((key) => `  - ${key}`),
  ];
  writeFileSync(`${path}.tmp`, `${lines.join("\n")}\n`);
  renameSync(`${path}.tmp`, path);
}
