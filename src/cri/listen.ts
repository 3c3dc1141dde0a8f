import { mkdir, chmod, lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";
import { dirname } from "node:path";

/** Where the proxy accepts kubelet connections. */
export type ListenTarget =
  /** A unix socket path pullgate creates (replacing a stale socket left by a crash). */
  | { kind: "path"; path: string }
  /** An already-listening socket inherited as a file descriptor (systemd: fd 3). */
  | { kind: "fd"; fd: number }
  /** An already-listening server handed in by the caller. */
  | { kind: "server"; server: Server };

/** The socket's mode: owner and group (the kubelet runs as root) only. */
export const SOCKET_MODE = 0o660;
/** The mode of a socket directory pullgate creates. */
export const SOCKET_DIR_MODE = 0o750;

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
const FIRST_LISTEN_FD = 3;

/**
 * The socket systemd passed to this process, if any. Honoured only when LISTEN_PID names
 * this process, so a variable inherited by a child does not make it steal the socket.
 */
export function socketActivationTarget(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): ListenTarget | undefined {
  if (env.LISTEN_PID === undefined || env.LISTEN_FDS === undefined) return undefined;
  if (Number(env.LISTEN_PID) !== pid) return undefined;
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count < 1) return undefined;
  return { kind: "fd", fd: FIRST_LISTEN_FD };
}

/** Whether something accepts connections on a unix socket path right now. */
function isServing(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/**
 * Makes `path` ready to bind: creates its directory (0750) when missing, removes a socket
 * nobody serves (left by a crash), and refuses anything else already there.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: SOCKET_DIR_MODE });
  const existing = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing === undefined) return;

  if (!existing.isSocket()) {
    throw new Error(`--listen ${path} exists and is not a socket; refusing to remove it`);
  }
  if (await isServing(path)) {
    throw new Error(`--listen ${path} is in use by another running process`);
  }
  await unlink(path);
}

function listening(server: Server, listen: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    listen(() => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Creates a listening server on a path with mode 0660, never briefly wider. */
async function listenOnPath(path: string): Promise<Server> {
  await prepareSocketPath(path);
  const server = createServer();
  // bind(2) creates the socket file with 0777 & ~umask; narrowing the umask around the
  // synchronous bind leaves no moment in which the file is world-accessible.
  const previous = process.umask(0o117);
  let ready: Promise<void>;
  try {
    ready = listening(server, (done) => server.listen({ path }, done));
  } finally {
    process.umask(previous);
  }
  await ready;
  // Explicit, so the mode does not depend on the umask arithmetic above.
  await chmod(path, SOCKET_MODE);
  return server;
}

/** A listening server for a target, and a readable address for logs. */
export async function openListener(
  target: ListenTarget,
): Promise<{ server: Server; address: string }> {
  switch (target.kind) {
    case "path":
      return { server: await listenOnPath(target.path), address: `unix:${target.path}` };
    case "fd": {
      const server = createServer();
      await listening(server, (done) => server.listen({ fd: target.fd }, done));
      return { server, address: `fd:${target.fd}` };
    }
    case "server":
      return { server: target.server, address: describe(target.server) };
  }
}

function describe(server: Server): string {
  const address = server.address();
  if (typeof address === "string") return `unix:${address}`;
  return address === null ? "unbound" : `${address.address}:${address.port}`;
}
