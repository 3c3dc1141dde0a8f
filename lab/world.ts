import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiSigningKey, createApiSigningKey } from "./fake-oci/api-key";
import { regionalOcid } from "./fake-oci/ocids";
import { FakeOci } from "./fake-oci/server";
import { type LabContainerd, startContainerd } from "./containerd";
import { buildAndPushImage } from "./image-builder";
import { createVaultKey, type LocalVaultKey, signImage } from "./oci-cli-signer";
import { type LocalRegistry, startRegistry } from "./registry";

/**
 * A self-contained stand-in for an OKE node and its cloud: a real containerd whose OCIR
 * hosts resolve to a real local registry, images built and pushed for real, and a local
 * fake of the OCI APIs holding a tenancy, an API key for pullgate, a Vault key and the
 * signatures the OCI CLI would have uploaded. Nothing in it contacts another host.
 */

/** The OCIR tenancy namespace the lab's repositories live under. */
export const LAB_NAMESPACE = "axaxnpcrorw5";
/** The OCIR host the lab pulls from (served by the local registry). */
export const LAB_OCIR_HOST = "phx.ocir.io";

/** One image in the lab's registry. */
export interface LabImage {
  /** Repository below the namespace, e.g. `project01/hello`. */
  repository: string;
  tag: string;
  digest: string;
  /** `phx.ocir.io/<ns>/<repo>@sha256:...` */
  byDigest: string;
  /** `phx.ocir.io/<ns>/<repo>:<tag>` */
  byTag: string;
}

/** A running lab world. */
export interface LabWorld {
  dir: string;
  registry: LocalRegistry;
  containerd: LabContainerd;
  oci: FakeOci;
  apiKey: ApiSigningKey;
  tenancyId: string;
  vaultKey: LocalVaultKey;
  /** An OCI config file (and key file) for pullgate's `--auth config-file`. */
  ociConfigFile: string;
  /** Writes a policy file trusting `keys` (the lab key by default) and returns its path. */
  writePolicy(options?: { enabled?: boolean; keys?: string[]; name?: string }): string;
  /** Builds and pushes an image into the lab namespace. */
  pushImage(repository: string, tag?: string): Promise<LabImage>;
  /** Uploads a signature for `image` made by `key` (the lab key by default) as the CLI would. */
  sign(image: LabImage, key?: LocalVaultKey): void;
  stop(): Promise<void>;
}

/** Starts the lab world; everything lives under one temp dir and is removed by stop(). */
export async function startLabWorld(): Promise<LabWorld> {
  const dir = mkdtempSync(join(tmpdir(), "pullgate-lab-"));
  const stops: (() => Promise<void>)[] = [];
  try {
    const registry = await startRegistry();
    stops.push(() => registry.stop());
    const containerd = await startContainerd({ registryHost: registry.host });
    stops.push(() => containerd.stop());
    const oci = await FakeOci.start();
    stops.push(() => oci.stop());

    const apiKey = createApiSigningKey();
    oci.addApiKey(apiKey);
    const vaultKey = createVaultKey();
    oci.addKeyVersion({
      keyId: vaultKey.keyId,
      keyVersionId: vaultKey.keyVersionId,
      vaultId: vaultKey.vaultId,
      compartmentId: apiKey.tenancyId,
      publicKeyPem: vaultKey.publicKeyPem,
    });
    const ociConfigFile = writeOciConfig(dir, apiKey);

    return {
      dir,
      registry,
      containerd,
      oci,
      apiKey,
      tenancyId: apiKey.tenancyId,
      vaultKey,
      ociConfigFile,
      writePolicy(options = {}) {
        const keys = options.keys ?? [vaultKey.keyId];
        const path = join(dir, options.name ?? "policy.yaml");
        const lines = [
          `enabled: ${options.enabled ?? true}`,
          `tenancy: ${apiKey.tenancyId}`,
          keys.length === 0 ? "keys: []" : "keys:",
          ...keys.map((key) => `  - ${key}`),
        ];
        writeFileSync(path, `${lines.join("\n")}\n`);
        return path;
      },
      async pushImage(repository, tag = "v1") {
        const pushed = await buildAndPushImage(
          registry.url,
          `${LAB_NAMESPACE}/${repository}`,
          tag,
        );
        const name = `${LAB_OCIR_HOST}/${LAB_NAMESPACE}/${repository}`;
        return {
          repository,
          tag,
          digest: pushed.digest,
          byDigest: `${name}@${pushed.digest}`,
          byTag: `${name}:${tag}`,
        };
      },
      sign(image, key = vaultKey) {
        const signed = signImage(key, {
          imageId: regionalOcid("containerimage"),
          compartmentId: apiKey.tenancyId,
          repositoryName: image.repository,
          imageDigest: image.digest,
        });
        oci.addSignature(signed);
      },
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Writes an OCI config file as `oci setup config` would, with the key beside it. */
function writeOciConfig(dir: string, key: ApiSigningKey): string {
  const keyFile = join(dir, "oci_api_key.pem");
  writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });
  const configFile = join(dir, "oci-config");
  writeFileSync(
    configFile,
    [
      "[DEFAULT]",
      `user=${key.userId}`,
      `fingerprint=${key.fingerprint}`,
      `tenancy=${key.tenancyId}`,
      "region=us-phoenix-1",
      `key_file=${keyFile}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return configFile;
}
