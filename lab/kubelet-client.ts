import {
  Client,
  credentials,
  Metadata,
  status,
  type ServiceError,
} from "@grpc/grpc-js";
import type { MethodDefinition, ServiceDefinition } from "@grpc/proto-loader";

import { loadImageServiceDefinition } from "../src/cri/proto-file";

/**
 * A CRI client that makes ImageService calls shaped the way the kubelet makes them: an
 * ImageStatus first, then a PullImage carrying the pod's sandbox config (and registry
 * credentials when the pod has pull secrets), each under the runtime request timeout.
 */

/** The kubelet's default `--runtime-request-timeout`. */
export const KUBELET_RUNTIME_REQUEST_TIMEOUT_MS = 2 * 60 * 1000;

/** An answer, or the gRPC status the server ended the call with. */
export type CriResult<T> = { ok: true; value: T } | { ok: false; code: status; details: string };

/** The pod a pull is made for. */
export interface PodContext {
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
  /** Copied into `sandbox_config.annotations`, as every kubelet does. */
  annotations?: Record<string, string>;
  /** Also copy the annotations into `image.annotations`, as recent kubelets do. */
  annotateImage?: boolean;
}

/** Registry credentials from a pull secret. */
export interface RegistryAuth {
  username: string;
  password: string;
  serverAddress?: string;
}

/** One image as the runtime reports it. */
export interface ImageInfo {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: string;
}

/** Options of one ImageStatus call. */
export interface ImageStatusOptions {
  annotations?: Record<string, string>;
  verbose?: boolean;
}

/** Options of one PullImage call. */
export interface PullOptions {
  pod?: PodContext;
  auth?: RegistryAuth;
}

/** What an IfNotPresent container start did: found the image, or pulled it. */
export interface EnsuredImage {
  pulled: boolean;
  imageRef: string;
}

/** How to reach the image service. */
export interface KubeletClientOptions {
  /** The CRI unix socket (pullgate's, or the runtime's for a direct comparison). */
  socket: string;
  /** Deadline of each call; the kubelet's default is two minutes. */
  timeoutMs?: number;
  /** Metadata sent with every call. */
  metadata?: Record<string, string>;
}

interface WireImage {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: string;
}

function toImageInfo(image: WireImage): ImageInfo {
  return {
    id: image.id,
    repoTags: image.repo_tags,
    repoDigests: image.repo_digests,
    size: image.size,
  };
}

function sandboxConfig(pod: PodContext): object {
  return {
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      attempt: pod.attempt ?? 0,
    },
    annotations: pod.annotations ?? {},
  };
}

/** A kubelet-shaped ImageService client. */
export class KubeletClient {
  private readonly client: Client;
  private readonly service: ServiceDefinition;
  private readonly timeoutMs: number;

  constructor(private readonly options: KubeletClientOptions) {
    this.client = new Client(`unix:${options.socket}`, credentials.createInsecure(), {
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
    });
    this.service = loadImageServiceDefinition();
    this.timeoutMs = options.timeoutMs ?? KUBELET_RUNTIME_REQUEST_TIMEOUT_MS;
  }

  private method(name: string): MethodDefinition<object, object> {
    const method = this.service[name];
    if (method === undefined) throw new Error(`ImageService has no method ${name}`);
    return method;
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(this.options.metadata ?? {})) {
      metadata.set(key, value);
    }
    return metadata;
  }

  /** Makes one unary call; a failure is a value, never an exception. */
  call<T>(name: string, request: object, signal?: AbortSignal): Promise<CriResult<T>> {
    const method = this.method(name);
    const deadline = new Date(Date.now() + this.timeoutMs);
    return new Promise((resolve) => {
      const call = this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(),
        { deadline },
        (error: ServiceError | null, response?: object) => {
          if (error !== null) resolve({ ok: false, code: error.code, details: error.details });
          else resolve({ ok: true, value: response as T });
        },
      );
      signal?.addEventListener("abort", () => call.cancel(), { once: true });
    });
  }

  /** ImageStatus: whether the image is on the node, and its ID when it is. */
  async imageStatus(
    image: string,
    options: ImageStatusOptions = {},
  ): Promise<CriResult<ImageInfo | undefined>> {
    const request = {
      image: { image, annotations: options.annotations ?? {} },
      verbose: options.verbose ?? false,
    };
    const answer = await this.call<{ image: WireImage | null }>("ImageStatus", request);
    if (!answer.ok) return answer;
    const found = answer.value.image;
    return { ok: true, value: found === null ? undefined : toImageInfo(found) };
  }

  /** PullImage with the pod's sandbox config and optional credentials. */
  async pullImage(
    image: string,
    options: PullOptions = {},
    signal?: AbortSignal,
  ): Promise<CriResult<string>> {
    const { pod, auth } = options;
    const annotations = pod?.annotateImage === true ? (pod.annotations ?? {}) : {};
    const request: Record<string, object> = {
      image: { image, annotations, user_specified_image: image },
    };
    if (pod !== undefined) request.sandbox_config = sandboxConfig(pod);
    if (auth !== undefined) {
      request.auth = {
        username: auth.username,
        password: auth.password,
        server_address: auth.serverAddress ?? "",
      };
    }
    const answer = await this.call<{ image_ref: string }>("PullImage", request, signal);
    return answer.ok ? { ok: true, value: answer.value.image_ref } : answer;
  }

  /** What the kubelet does for pull policy IfNotPresent: ImageStatus, then pull if absent. */
  async ensureImage(image: string, options: PullOptions = {}): Promise<CriResult<EnsuredImage>> {
    const annotations = options.pod?.annotateImage === true ? options.pod.annotations : undefined;
    const present = await this.imageStatus(image, annotations ? { annotations } : {});
    if (!present.ok) return present;
    if (present.value !== undefined) {
      return { ok: true, value: { pulled: false, imageRef: present.value.id } };
    }
    const pulled = await this.pullImage(image, options);
    return pulled.ok ? { ok: true, value: { pulled: true, imageRef: pulled.value } } : pulled;
  }

  /** ListImages, as the image garbage collector and node status make it. */
  async listImages(): Promise<CriResult<ImageInfo[]>> {
    const answer = await this.call<{ images: WireImage[] }>("ListImages", {});
    return answer.ok ? { ok: true, value: answer.value.images.map(toImageInfo) } : answer;
  }

  /** RemoveImage, as image garbage collection makes it. */
  async removeImage(image: string): Promise<CriResult<void>> {
    const answer = await this.call<object>("RemoveImage", { image: { image } });
    return answer.ok ? { ok: true, value: undefined } : answer;
  }

  /** ImageFsInfo: the image filesystems' usage, as eviction checks read it. */
  async imageFsInfo(): Promise<CriResult<{ mountpoint: string; usedBytes: string }[]>> {
    type Usage = { fs_id: { mountpoint: string } | null; used_bytes: { value: string } | null };
    const answer = await this.call<{ image_filesystems: Usage[] }>("ImageFsInfo", {});
    if (!answer.ok) return answer;
    const filesystems = answer.value.image_filesystems.map((usage) => ({
      mountpoint: usage.fs_id?.mountpoint ?? "",
      usedBytes: usage.used_bytes?.value ?? "0",
    }));
    return { ok: true, value: filesystems };
  }

  /** StreamImages: every batch of the streamed listing, flattened. */
  streamImages(): Promise<CriResult<ImageInfo[]>> {
    const method = this.method("StreamImages");
    const deadline = new Date(Date.now() + this.timeoutMs);
    return new Promise((resolve) => {
      const images: ImageInfo[] = [];
      const stream = this.client.makeServerStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        {},
        this.metadata(),
        { deadline },
      );
      stream.on("data", (batch: { images: WireImage[] }) => {
        images.push(...batch.images.map(toImageInfo));
      });
      stream.on("error", () => undefined);
      stream.on("status", (ended: { code: status; details: string }) => {
        if (ended.code !== status.OK) {
          resolve({ ok: false, code: ended.code, details: ended.details });
          return;
        }
        // Batches may still be queued behind the status; answer after the last one.
        if (stream.readableEnded) resolve({ ok: true, value: images });
        else stream.once("end", () => resolve({ ok: true, value: images }));
      });
    });
  }

  /** Closes the connection. */
  close(): void {
    this.client.close();
  }
}
