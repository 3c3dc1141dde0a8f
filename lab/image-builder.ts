/**
 * Small single-layer images built in Node and pushed to the lab registry with the
 * distribution v2 API, so the lab needs no docker or buildah.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { tarArchive, type TarEntry } from "./tar-archive";

/** The two manifest formats containerd accepts for a single-platform image. */
export type ManifestFormat = "oci" | "docker";

/** Options for {@link buildAndPushImage}. */
export interface BuildOptions {
  /** Manifest format (default `oci`). */
  format?: ManifestFormat;
  /** Extra text baked into the layer, so two builds of one repository and tag can differ. */
  variant?: string;
  /** Extra files for the layer (relative paths). */
  files?: Readonly<Record<string, string>>;
}

/** A blob that is part of an image: its bytes and how a manifest refers to it. */
interface Blob {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

/** What was pushed, and under which digest the registry now serves it. */
export interface PushedImage {
  /** Repository path in the registry, e.g. `axaxnpcrorw5/project01/hello`. */
  repository: string;
  tag: string;
  /** Manifest digest, `sha256:...`, as the registry reported it and as computed here. */
  digest: string;
  manifestMediaType: string;
  /** The exact manifest bytes pushed. */
  manifest: Buffer;
  configDigest: string;
  layerDigests: string[];
  /** Manifest plus config plus layers, in bytes. */
  size: number;
}

const MEDIA_TYPES = {
  oci: {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar+gzip",
  },
  docker: {
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  },
} as const;

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** The OCI architecture name of this machine (`amd64` or `arm64`). */
export function hostArchitecture(): "amd64" | "arm64" {
  if (process.arch === "x64") return "amd64";
  if (process.arch === "arm64") return "arm64";
  throw new Error(`the lab builds images for amd64 or arm64, not ${process.arch}`);
}

/** Builds an image for this machine's platform and pushes it as `repository:tag`. */
export async function buildAndPushImage(
  registryUrl: string,
  repository: string,
  tag: string,
  options: BuildOptions = {},
): Promise<PushedImage> {
  const types = MEDIA_TYPES[options.format ?? "oci"];
  const tar = tarArchive(layerEntries(repository, tag, options));
  const layer = blob(types.layer, gzipSync(tar));
  const config = blob(types.config, imageConfig(sha256Digest(tar)));
  const manifest = manifestBytes(types.manifest, config, [layer]);

  const registry = new RegistryPusher(registryUrl, repository);
  for (const item of [layer, config]) await registry.pushBlob(item);
  const digest = await registry.pushManifest(tag, types.manifest, manifest);

  return {
    repository,
    tag,
    digest,
    manifestMediaType: types.manifest,
    manifest,
    configDigest: config.digest,
    layerDigests: [layer.digest],
    size: manifest.length + config.bytes.length + layer.bytes.length,
  };
}

function layerEntries(repository: string, tag: string, options: BuildOptions): TarEntry[] {
  const identity = { repository, tag, variant: options.variant ?? "" };
  const entries: TarEntry[] = [
    { path: "etc/" },
    { path: "etc/pullgate-lab/" },
    { path: "etc/pullgate-lab/image.json", content: Buffer.from(JSON.stringify(identity)) },
    { path: "hello.txt", content: Buffer.from(`hello from ${repository}:${tag}\n`) },
  ];
  for (const [path, content] of Object.entries(options.files ?? {})) {
    entries.push({ path, content: Buffer.from(content) });
  }
  return entries;
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: sha256Digest(bytes), bytes };
}

function imageConfig(diffId: string): Buffer {
  const created = "2024-01-01T00:00:00Z";
  return Buffer.from(
    JSON.stringify({
      created,
      architecture: hostArchitecture(),
      os: "linux",
      config: { Env: ["PATH=/"], Cmd: ["/hello.txt"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created, created_by: "pullgate lab image builder" }],
    }),
  );
}

function manifestBytes(mediaType: string, config: Blob, layers: readonly Blob[]): Buffer {
  const descriptor = (item: Blob) => ({
    mediaType: item.mediaType,
    digest: item.digest,
    size: item.bytes.length,
  });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: descriptor(config),
      layers: layers.map(descriptor),
    }),
  );
}

/** The registry's side of a push: monolithic blob uploads, then the manifest under a tag. */
class RegistryPusher {
  private readonly base: string;

  constructor(
    private readonly registryUrl: string,
    private readonly repository: string,
  ) {
    this.base = `${registryUrl}/v2/${repository}`;
  }

  async pushBlob(item: Blob): Promise<void> {
    const head = await fetch(`${this.base}/blobs/${item.digest}`, { method: "HEAD" });
    if (head.status === 200) return;

    const started = await fetch(`${this.base}/blobs/uploads/`, { method: "POST" });
    await this.expect(started, 202, `start upload of ${item.digest}`);
    const location = started.headers.get("location");
    if (location === null) throw this.failure(`upload of ${item.digest}: no Location header`);

    const target = new URL(location, this.registryUrl);
    target.searchParams.set("digest", item.digest);
    const finished = await fetch(target, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: item.bytes,
    });
    await this.expect(finished, 201, `finish upload of ${item.digest}`);
    this.checkDigest(finished, item.digest, "blob");
  }

  async pushManifest(tag: string, mediaType: string, manifest: Buffer): Promise<string> {
    const response = await fetch(`${this.base}/manifests/${tag}`, {
      method: "PUT",
      headers: { "content-type": mediaType },
      body: manifest,
    });
    await this.expect(response, 201, `put manifest ${tag}`);
    return this.checkDigest(response, sha256Digest(manifest), "manifest");
  }

  private async expect(response: Response, status: number, what: string): Promise<void> {
    const body = await response.text();
    if (response.status !== status) {
      throw this.failure(`${what}: HTTP ${response.status} ${body.slice(0, 300)}`);
    }
  }

  // The digest the registry reports is the one containerd will be asked for; a mismatch
  // would mean the bytes changed on the way.
  private checkDigest(response: Response, expected: string, what: string): string {
    const reported = response.headers.get("docker-content-digest");
    if (reported !== expected) {
      throw this.failure(`${what} digest: registry says ${reported}, computed ${expected}`);
    }
    return reported;
  }

  private failure(detail: string): Error {
    return new Error(`push to ${this.registryUrl}/${this.repository}: ${detail}`);
  }
}
