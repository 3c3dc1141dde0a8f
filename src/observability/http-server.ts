import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/**
 * The operators' port: Prometheus metrics, liveness and readiness. Liveness only says the
 * process answers; readiness says pullgate can decide (serving, and a policy in force).
 */
export interface HealthServer {
  /** `host:port` actually bound (port 0 picks a free one). */
  address: string;
  close(): Promise<void>;
}

/** What readiness is made of; each check names what is missing. */
export type ReadinessCheck = () => string | undefined;

/** Serves /metrics, /healthz and /readyz on `listen` (`host:port`). */
export async function startHealthServer(
  listen: string,
  registry: Registry,
  readiness: ReadinessCheck,
): Promise<HealthServer> {
  const { host, port } = splitHostPort(listen);
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
        () => response.writeHead(500).end("metrics unavailable\n"),
      );
      return;
    }
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const missing = readiness();
      response
        .writeHead(missing === undefined ? 200 : 503, { "content-type": "text/plain" })
        .end(missing === undefined ? "ready\n" : `not ready: ${missing}\n`);
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });

  await listenOn(server, host, port);
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.address.includes(":") ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `host:port` or `[v6]:port`, as `--metrics-listen` takes it (the port's range aside). */
export const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/;

/** Splits `host:port` (`[v6]:port` too); throws with the value when it is neither. */
function splitHostPort(value: string): { host: string; port: number } {
  const match = HOST_PORT.exec(value);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new Error(`"${value}" is not host:port`);
  }
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
