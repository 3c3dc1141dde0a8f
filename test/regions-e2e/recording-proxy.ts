import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback HTTP proxy in front of one fake OCI API that remembers the path and query of
 * every request. It passes headers through untouched (the signed `host` included), so the
 * fake still verifies pullgate's request signatures.
 */
export interface RecordingProxy {
  /** `http://127.0.0.1:<port>`, to hand to pullgate as an endpoint. */
  url: string;
  /** Path and query of each request, oldest first. */
  requests: URL[];
  close(): Promise<void>;
}

/** Starts a proxy forwarding to `target` (`http://127.0.0.1:<port>`). */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: URL[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    requests.push(new URL(incoming.url ?? "/", "http://recorded"));
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on("error", () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
