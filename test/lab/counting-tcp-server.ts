/**
 * A loopback TCP server standing in for a real registry host: it only counts the
 * connections it receives and closes them, so a test can prove nothing tried to reach it.
 */
import { createServer, type Server } from "node:net";

/** A listening stand-in and the number of connections it has seen. */
export interface CountingTcpServer {
  readonly port: number;
  connections(): number;
  close(): Promise<void>;
}

/** Starts a stand-in on 127.0.0.1 with a port chosen by the kernel. */
export async function startCountingTcpServer(): Promise<CountingTcpServer> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return {
    port: address.port,
    connections: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
