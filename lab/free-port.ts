/** Finding a free TCP port on the loopback interface for a server the lab starts. */
import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (the caller retries if it is taken). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}
