import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type StatusObject,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";

import { contextFor } from "./call-context";
import type { CallContext, ImageServiceInterceptor, UnaryMethod } from "./interceptor";
import { openListener, type ListenTarget } from "./listen";
import { forwardableMetadata } from "./metadata";
import {
  logLevelFor,
  methodPath,
  STREAMING_METHODS,
  UNARY_METHODS,
  type ImageServiceMethod,
  type StreamingMethod,
} from "./methods";
import { UpstreamImageService } from "./upstream";

/** One finished call to the runtime, for metrics. */
export interface UpstreamCallReport {
  method: ImageServiceMethod;
  code: status;
  seconds: number;
}

/** Receives a report for every call that reached the runtime. */
export type ProxyObserver = (report: UpstreamCallReport) => void;

/** How to start the proxy. */
export interface ImageServiceProxyOptions {
  listen: ListenTarget;
  /** Path of the runtime's CRI unix socket. */
  upstreamSocket: string;
  interceptor: ImageServiceInterceptor;
  logger: Logger;
  observer?: ProxyObserver;
  /** Largest message accepted either way; the kubelet's own limit is 16 MiB. */
  maxMessageBytes?: number;
}

/** A running proxy. */
export interface ImageServiceProxy {
  /** Where it listens, for logs (`unix:/run/pullgate/pullgate.sock`, `fd:3`). */
  address: string;
  /** Stops accepting, lets calls in flight finish for `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** The kubelet's default CRI message limit. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** How long calls in flight may run on after close() by default. */
export const DEFAULT_CLOSE_GRACE_MS = 10_000;

interface Deps {
  upstream: UpstreamImageService;
  interceptor: ImageServiceInterceptor;
  logger: Logger;
  observer?: ProxyObserver;
}

/** How a unary call ends, before it is sent. */
interface Ending extends Partial<Pick<StatusObject, "metadata">> {
  outcome: "forwarded" | "rejected" | "replied" | "cancelled" | "failed";
  code: status;
  details: string;
  headers?: Metadata;
  response?: Buffer;
}

const identity = (bytes: Buffer): Buffer => bytes;

function rawMethod(
  method: ImageServiceMethod,
  streaming: boolean,
): MethodDefinition<Buffer, Buffer> {
  // Identity (de)serializers: bytes pass through untouched, unknown fields included.
  return {
    path: methodPath(method),
    requestStream: false,
    responseStream: streaming,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

function serviceDefinition(): ServiceDefinition {
  const definition: Record<string, MethodDefinition<Buffer, Buffer>> = {};
  for (const method of UNARY_METHODS) definition[method] = rawMethod(method, false);
  for (const method of STREAMING_METHODS) definition[method] = rawMethod(method, true);
  return definition;
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function forwardUnary(
  method: UnaryMethod,
  call: ServerUnaryCall<Buffer, Buffer>,
  context: CallContext,
  deps: Deps,
): Promise<Ending> {
  const interception = await deps.interceptor.beforeUnary(method, call.request, context);
  if (interception.action === "reject") {
    return { outcome: "rejected", code: interception.code, details: interception.details };
  }
  if (interception.action === "reply") {
    return { outcome: "replied", code: status.OK, details: "OK", response: interception.response };
  }
  if (context.signal.aborted) {
    return { outcome: "cancelled", code: status.CANCELLED, details: "Cancelled by the caller" };
  }

  const started = process.hrtime.bigint();
  const result = await deps.upstream.unary(method, call.request, {
    metadata: call.metadata,
    signal: context.signal,
    ...(context.deadline === undefined ? {} : { deadline: context.deadline }),
  });
  deps.observer?.({ method, code: result.code, seconds: secondsSince(started) });

  const ending: Ending = { outcome: "forwarded", code: result.code, details: result.details };
  ending.metadata = result.trailers;
  if (result.headers !== undefined) ending.headers = result.headers;
  if (result.response === undefined) return ending;

  ending.response = result.response;
  const after = deps.interceptor.afterUnary?.bind(deps.interceptor);
  if (after === undefined) return ending;
  ending.response = await after(method, call.request, result.response, context);
  return ending;
}

function sendUnary(
  call: ServerUnaryCall<Buffer, Buffer>,
  callback: sendUnaryData<Buffer>,
  ending: Ending,
): void {
  if (ending.headers !== undefined) call.sendMetadata(forwardableMetadata(ending.headers));
  const trailers = ending.metadata ?? new Metadata();
  if (ending.code === status.OK && ending.response !== undefined) {
    callback(null, ending.response, trailers);
    return;
  }
  callback({ code: ending.code, details: ending.details, metadata: trailers });
}

function unaryHandler(method: UnaryMethod, deps: Deps) {
  const level = logLevelFor(method);
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
    const started = process.hrtime.bigint();
    const log = deps.logger.child({ rpc: method });
    log[level]("call started");
    const { context, release } = contextFor(call);

    forwardUnary(method, call, context, deps)
      .catch((err: unknown): Ending => {
        // pullgate's own fault: never forward a call that could not be judged.
        log.error({ err }, "call failed inside pullgate");
        return { outcome: "failed", code: status.INTERNAL, details: "pullgate failed the call" };
      })
      .then((ending) => {
        release();
        sendUnary(call, callback, ending);
        const code = status[ending.code];
        log[level]({ outcome: ending.outcome, code, seconds: secondsSince(started) }, "call ended");
      })
      .catch((err: unknown) => log.error({ err }, "could not answer the caller"));
  };
}

function streamHandler(method: StreamingMethod, deps: Deps) {
  return (call: ServerWritableStream<Buffer, Buffer>): void => {
    const started = process.hrtime.bigint();
    const log = deps.logger.child({ rpc: method });
    log.debug("call started");
    const { context, release } = contextFor(call);
    const upstream = deps.upstream.serverStream(method, call.request, {
      metadata: call.metadata,
      signal: context.signal,
      ...(context.deadline === undefined ? {} : { deadline: context.deadline }),
    });

    upstream.on("metadata", (headers: Metadata) => {
      call.sendMetadata(forwardableMetadata(headers));
    });
    upstream.on("data", (message: Buffer) => {
      // Backpressure: stop reading from the runtime while the kubelet is slow to read.
      if (!call.write(message)) upstream.pause();
    });
    call.on("drain", () => upstream.resume());
    // The outcome arrives with "status" below; "error" only repeats it.
    upstream.on("error", () => undefined);
    upstream.on("status", (ended: StatusObject) => {
      release();
      deps.observer?.({ method, code: ended.code, seconds: secondsSince(started) });
      log.debug({ code: status[ended.code], seconds: secondsSince(started) }, "call ended");
      if (ended.code !== status.OK) {
        call.emit("error", { code: ended.code, details: ended.details, metadata: ended.metadata });
        return;
      }
      // Messages may still be buffered while paused; end only after the last is written.
      if (upstream.readableEnded) call.end(ended.metadata);
      else upstream.once("end", () => call.end(ended.metadata));
    });
  };
}

function implementation(deps: Deps): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  for (const method of UNARY_METHODS) handlers[method] = unaryHandler(method, deps);
  for (const method of STREAMING_METHODS) handlers[method] = streamHandler(method, deps);
  return handlers;
}

async function shutdown(
  server: Server,
  listener: { close(): unknown },
  upstream: UpstreamImageService,
  graceMs: number,
): Promise<void> {
  // The listener's own close callback waits for every connection, so it is not awaited;
  // the gRPC server ends those connections below.
  listener.close();
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
  upstream.close();
}

/** Starts serving the CRI ImageService, forwarding to the runtime through the interceptor. */
export async function startImageServiceProxy(
  options: ImageServiceProxyOptions,
): Promise<ImageServiceProxy> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const upstream = new UpstreamImageService(options.upstreamSocket, maxMessageBytes);
  const deps: Deps = { upstream, interceptor: options.interceptor, logger: options.logger };
  if (options.observer !== undefined) deps.observer = options.observer;

  const server = new Server({ "grpc.max_receive_message_length": maxMessageBytes });
  server.addService(serviceDefinition(), implementation(deps));
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());

  let opened: Awaited<ReturnType<typeof openListener>>;
  try {
    opened = await openListener(options.listen);
  } catch (error) {
    server.forceShutdown();
    upstream.close();
    throw error;
  }
  opened.server.on("connection", (socket) => injector.injectConnection(socket));
  options.logger.info(
    { address: opened.address, upstream: options.upstreamSocket },
    "image service proxy listening",
  );

  return {
    address: opened.address,
    close: (graceMs = DEFAULT_CLOSE_GRACE_MS) =>
      shutdown(server, opened.server, upstream, graceMs),
  };
}
