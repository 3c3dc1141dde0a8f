/**
 * A small typed CRI ImageService client for the lab tests, built on the fixture proto so the
 * tests do not depend on the product's own proto.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The Image message, as the loader decodes it (keepCase, longs as strings). */
export interface CriImage {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: string;
}

/** Outcome of one call: the response or the gRPC status it ended with. */
export type CallResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: grpc.status; details: string };

/** The ImageService calls the lab tests make. */
export interface CriImageClient {
  pullImage(image: string, pod?: PodIdentity): Promise<CallResult<{ image_ref: string }>>;
  imageStatus(image: string): Promise<CallResult<{ image: CriImage | null }>>;
  listImages(): Promise<CallResult<{ images: CriImage[] }>>;
  close(): void;
}

/** Who a pull is made for, as the kubelet fills `sandbox_config`. */
export interface PodIdentity {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
}

type UnaryMethod = (
  request: object,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, value?: unknown) => void,
) => void;

/** Connects to `address` (`unix:///path`) with the fixture proto. */
export function criImageClient(address: string): CriImageClient {
  const definition = protoLoader.loadSync(join(__dirname, "fixtures", "cri-min.proto"), {
    keepCase: true,
    longs: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition);
  const runtime = (loaded.runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const Service = runtime.ImageService as grpc.ServiceClientConstructor;
  const client = new Service(address, grpc.credentials.createInsecure());

  const call = <T>(method: string, request: object): Promise<CallResult<T>> => {
    const fn = (client as unknown as Record<string, UnaryMethod>)[method];
    if (fn === undefined) throw new Error(`no method ${method}`);
    return new Promise((resolve) => {
      fn.call(client, request, { deadline: Date.now() + 60_000 }, (err, value) => {
        if (err !== null) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, value: value as T });
      });
    });
  };

  return {
    pullImage: (image, pod) =>
      call("PullImage", {
        image: { image },
        sandbox_config: pod && {
          metadata: { name: pod.name, namespace: pod.namespace, uid: "lab", attempt: 0 },
          annotations: pod.annotations ?? {},
        },
      }),
    imageStatus: (image) => call("ImageStatus", { image: { image } }),
    listImages: () => call("ListImages", {}),
    close: () => client.close(),
  };
}
