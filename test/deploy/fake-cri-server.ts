import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import type { ServiceDefinition, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";

const identity = (b: Buffer): Buffer => b;

const imageFsInfo: ServiceDefinition = {
  ImageFsInfo: {
    path: "/runtime.v1.ImageService/ImageFsInfo",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** A CRI ImageService on a unix socket that answers ImageFsInfo, healthy or not. */
export interface FakeCriServer {
  /** How many ImageFsInfo calls it has answered. */
  calls(): number;
  stop(): Promise<void>;
}

/** Starts a gRPC server on socketPath; when healthy is false it answers UNAVAILABLE. */
export async function startFakeCriServer(
  socketPath: string,
  healthy = true,
): Promise<FakeCriServer> {
  let calls = 0;
  const server = new Server();
  server.addService(imageFsInfo, {
    ImageFsInfo: (_call: ServerUnaryCall<Buffer, Buffer>, reply: sendUnaryData<Buffer>) => {
      calls += 1;
      if (healthy) reply(null, Buffer.alloc(0));
      else reply({ code: status.UNAVAILABLE, details: "runtime not reachable" });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socketPath}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    );
  });
  return {
    calls: () => calls,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
