import type { UnaryMethod } from "./interceptor";

/** The fully qualified name of the CRI image service. */
export const IMAGE_SERVICE = "runtime.v1.ImageService";

/** The unary ImageService methods pullgate serves and forwards. */
export const UNARY_METHODS: readonly UnaryMethod[] = [
  "ListImages",
  "ImageStatus",
  "PullImage",
  "RemoveImage",
  "ImageFsInfo",
];

/** Server-streaming ImageService methods, forwarded without inspection. */
export const STREAMING_METHODS = ["StreamImages"] as const;

/** A server-streaming ImageService method. */
export type StreamingMethod = (typeof STREAMING_METHODS)[number];

/** Any ImageService method pullgate serves. */
export type ImageServiceMethod = UnaryMethod | StreamingMethod;

/** The HTTP/2 path gRPC uses for a method. */
export function methodPath(method: ImageServiceMethod): string {
  return `/${IMAGE_SERVICE}/${method}`;
}

/**
 * The log level for a method's calls: pulls and removals change the node and are few, so
 * info; the kubelet polls status, listings and filesystem usage constantly, so debug.
 */
export function logLevelFor(method: ImageServiceMethod): "info" | "debug" {
  return method === "PullImage" || method === "RemoveImage" ? "info" : "debug";
}
