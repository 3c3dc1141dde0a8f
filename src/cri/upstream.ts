import {
  Client,
  credentials,
  Metadata,
  status,
  type ClientReadableStream,
  type Deadline,
  type ServiceError,
  type StatusObject,
} from "@grpc/grpc-js";

import { methodPath, type ImageServiceMethod } from "./methods";
import { forwardableMetadata } from "./metadata";

/** How one upstream unary call ended, as values: code, details, both sets of metadata. */
export interface UpstreamResult {
  code: status;
  details: string;
  /** Response headers, when the runtime sent any before failing or answering. */
  headers?: Metadata;
  /** Trailing metadata of the call's status. */
  trailers: Metadata;
  /** The response bytes, exactly as received; present only when `code` is OK. */
  response?: Buffer;
}

/** Per-call settings passed on to the runtime. */
export interface UpstreamCallOptions {
  metadata: Metadata;
  deadline?: Deadline;
  signal: AbortSignal;
}

const identity = (bytes: Buffer): Buffer => bytes;

/** The runtime's ImageService, spoken to in raw bytes so nothing is re-encoded. */
export class UpstreamImageService {
  private readonly client: Client;

  constructor(socketPath: string, maxMessageBytes: number) {
    this.client = new Client(`unix:${socketPath}`, credentials.createInsecure(), {
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
      // The runtime is a local socket that comes back within seconds of a restart. gRPC's
      // default back-off (growing to 2 minutes) would keep failing calls long after it is
      // back, so reconnect attempts stay frequent: each costs one local connect.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    });
  }

  /** Makes one unary call; never rejects: every ending is an UpstreamResult. */
  unary(
    method: ImageServiceMethod,
    request: Buffer,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResult> {
    return new Promise<UpstreamResult>((resolve) => {
      let headers: Metadata | undefined;
      let response: Buffer | undefined;
      const call = this.client.makeUnaryRequest(
        methodPath(method),
        identity,
        identity,
        request,
        forwardableMetadata(options.metadata),
        options.deadline === undefined ? {} : { deadline: options.deadline },
        (error: ServiceError | null, value?: Buffer) => {
          if (error === null) response = value;
        },
      );
      const cancel = (): void => call.cancel();
      options.signal.addEventListener("abort", cancel, { once: true });
      call.on("metadata", (received: Metadata) => {
        headers = received;
      });
      // grpc-js reports the status after the callback, so `response` is settled here.
      call.on("status", (ended: StatusObject) => {
        options.signal.removeEventListener("abort", cancel);
        const result: UpstreamResult = {
          code: ended.code,
          details: ended.details,
          trailers: ended.metadata,
        };
        if (headers !== undefined) result.headers = headers;
        if (ended.code === status.OK && response !== undefined) result.response = response;
        resolve(result);
      });
    });
  }

  /** Opens a server-streaming call; the caller reads raw response messages from it. */
  serverStream(
    method: ImageServiceMethod,
    request: Buffer,
    options: UpstreamCallOptions,
  ): ClientReadableStream<Buffer> {
    const call = this.client.makeServerStreamRequest(
      methodPath(method),
      identity,
      identity,
      request,
      forwardableMetadata(options.metadata),
      options.deadline === undefined ? {} : { deadline: options.deadline },
    );
    const cancel = (): void => call.cancel();
    options.signal.addEventListener("abort", cancel, { once: true });
    call.on("status", () => options.signal.removeEventListener("abort", cancel));
    return call;
  }

  /** Closes the channel to the runtime. */
  close(): void {
    this.client.close();
  }
}
