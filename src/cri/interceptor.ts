import type { status } from "@grpc/grpc-js";

/**
 * The seam between the transparent CRI proxy and pullgate's decisions. The proxy moves
 * bytes; an interceptor looks at the few calls that need judging and says what to do.
 */

/** The unary ImageService methods, by their CRI names. */
export type UnaryMethod =
  | "ListImages"
  | "ImageStatus"
  | "PullImage"
  | "RemoveImage"
  | "ImageFsInfo";

/** What is known about a call besides its request bytes. */
export interface CallContext {
  /** Aborted when the caller cancels or its deadline passes. */
  signal: AbortSignal;
  /** The caller's deadline, if it sent one. */
  deadline?: Date;
}

/** What the proxy does with a call. */
export type Interception =
  | { action: "forward" }
  | { action: "reject"; code: status; details: string }
  | { action: "reply"; response: Buffer };

/** Looks at calls before (and optionally after) they reach the runtime. */
export interface ImageServiceInterceptor {
  /** Decides what happens to a unary call before it reaches the runtime. */
  beforeUnary(method: UnaryMethod, request: Buffer, context: CallContext): Promise<Interception>;
  /** Sees (and may replace) a successful unary response before it reaches the caller. */
  afterUnary?(
    method: UnaryMethod,
    request: Buffer,
    response: Buffer,
    context: CallContext,
  ): Promise<Buffer>;
}

/** An interceptor that forwards everything untouched. */
export const passThrough: ImageServiceInterceptor = {
  beforeUnary: async () => ({ action: "forward" }),
};
