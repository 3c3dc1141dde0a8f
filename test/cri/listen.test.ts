import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { status } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { KubeletClient } from "../../lab/kubelet-client";
import { passThrough } from "../../src/cri/interceptor";
import { prepareSocketPath, socketActivationTarget } from "../../src/cri/listen";
import { startImageServiceProxy, type ImageServiceProxy } from "../../src/cri/proxy";
import { FakeRuntime, type FakeAnswer } from "./fixtures/fake-runtime";

const quiet = pino({ level: "silent" });

/** Leaves a socket file nobody serves, as a crashed process does. */
function leaveStaleSocket(path: string): void {
  const script = `require("net").createServer().listen(${JSON.stringify(path)}, () =>
    process.kill(process.pid, "SIGKILL"))`;
  spawnSync(process.execPath, ["-e", script]);
}

function startProxy(path: string, upstreamSocket: string): Promise<ImageServiceProxy> {
  return startImageServiceProxy({
    listen: { kind: "path", path },
    upstreamSocket,
    interceptor: passThrough,
    logger: quiet,
  });
}

describe("listening", () => {
  let dir: string;
  let fake: FakeRuntime;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pullgate-listen-"));
    fake = await FakeRuntime.start(dir);
  });

  afterAll(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates the socket 0660 in a new 0750 directory", async () => {
    const path = join(dir, "fresh", "pullgate.sock");
    const proxy = await startProxy(path, fake.socket);
    try {
      expect((await lstat(path)).isSocket()).toBe(true);
      expect((await stat(path)).mode & 0o777).toBe(0o660);
      expect((await stat(join(dir, "fresh"))).mode & 0o777).toBe(0o750);
    } finally {
      await proxy.close(100);
    }
  });

  it("replaces a stale socket left by a crashed process", async () => {
    const path = join(dir, "stale.sock");
    leaveStaleSocket(path);
    expect((await lstat(path)).isSocket()).toBe(true);

    const proxy = await startProxy(path, fake.socket);
    const kubelet = new KubeletClient({ socket: path, timeoutMs: 10_000 });
    try {
      expect((await kubelet.listImages()).ok).toBe(true);
    } finally {
      kubelet.close();
      await proxy.close(100);
    }
  });

  it("refuses to remove a path that is not a socket", async () => {
    const path = join(dir, "precious.txt");
    await writeFile(path, "keep me");

    await expect(startProxy(path, fake.socket)).rejects.toThrow(/is not a socket/);
    expect(await readFile(path, "utf8")).toBe("keep me");
  });

  it("refuses a socket another process is serving", async () => {
    const path = join(dir, "busy.sock");
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(path, resolve));
    try {
      await expect(prepareSocketPath(path)).rejects.toThrow(/in use/);
      expect((await lstat(path)).isSocket()).toBe(true);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("serves connections accepted by a listener it is handed", async () => {
    const path = join(dir, "handed.sock");
    const listener: Server = createServer();
    await new Promise<void>((resolve) => listener.listen(path, resolve));
    const proxy = await startImageServiceProxy({
      listen: { kind: "server", server: listener },
      upstreamSocket: fake.socket,
      interceptor: passThrough,
      logger: quiet,
    });
    const kubelet = new KubeletClient({ socket: path, timeoutMs: 10_000 });
    try {
      const listed = await kubelet.listImages();
      expect(listed.ok && listed.value.map((image) => image.id)).toEqual([
        "sha256:1111",
        "sha256:3333",
      ]);
      expect(proxy.address).toBe(`unix:${path}`);
    } finally {
      kubelet.close();
      await proxy.close(100);
    }
  });

  it("lets a call in flight finish when closed gracefully", async () => {
    const path = join(dir, "graceful.sock");
    const proxy = await startProxy(path, fake.socket);
    let release: (answer: FakeAnswer) => void = () => undefined;
    fake.answer("PullImage", () => ({ wait: new Promise((resolve) => (release = resolve)) }));
    const kubelet = new KubeletClient({ socket: path, timeoutMs: 10_000 });
    const arrived = fake.nextCall();
    const pulled = kubelet.pullImage("example.com/app:1");
    await arrived;

    const closed = proxy.close(10_000);
    release({ response: Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]) });
    expect(await pulled).toEqual({ ok: true, value: "abc" });
    await closed;
    kubelet.close();
    fake.useDefaults();
  });

  it("cuts a call still running when the grace period ends", async () => {
    const path = join(dir, "forced.sock");
    const proxy = await startProxy(path, fake.socket);
    fake.answer("PullImage", () => ({ wait: new Promise<FakeAnswer>(() => undefined) }));
    const kubelet = new KubeletClient({ socket: path, timeoutMs: 10_000 });
    const arrived = fake.nextCall();
    const pulled = kubelet.pullImage("example.com/app:1");
    const upstreamCall = await arrived;

    await proxy.close(50);
    const outcome = await pulled;
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? status.OK : outcome.code).not.toBe(status.OK);
    await upstreamCall.cancelled;
    kubelet.close();
    fake.useDefaults();
  });
});

describe("socket activation", () => {
  it("uses fd 3 when LISTEN_PID names this process", () => {
    expect(socketActivationTarget({ LISTEN_PID: "42", LISTEN_FDS: "1" }, 42)).toEqual({
      kind: "fd",
      fd: 3,
    });
  });

  it("ignores sockets passed to another process", () => {
    expect(socketActivationTarget({ LISTEN_PID: "41", LISTEN_FDS: "1" }, 42)).toBeUndefined();
    expect(socketActivationTarget({ LISTEN_PID: "42", LISTEN_FDS: "0" }, 42)).toBeUndefined();
    expect(socketActivationTarget({}, 42)).toBeUndefined();
  });

  describe("under systemd-socket-activate", () => {
    let dir: string;
    let fake: FakeRuntime;
    let child: ChildProcess | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "pullgate-activation-"));
      fake = await FakeRuntime.start(dir);
    });

    afterAll(async () => {
      if (child?.pid !== undefined && child.exitCode === null) {
        const exited = new Promise((resolve) => child?.once("exit", resolve));
        process.kill(child.pid, "SIGTERM");
        await exited;
      }
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("serves the ImageService on the inherited socket", async () => {
      const path = join(dir, "activated.sock");
      const viteNode = join(__dirname, "..", "..", "node_modules", ".bin", "vite-node");
      const script = join(__dirname, "fixtures", "activated-proxy.ts");
      child = spawn(
        "systemd-socket-activate",
        ["-l", path, "-E", `PULLGATE_TEST_UPSTREAM=${fake.socket}`, viteNode, script],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      // systemd-socket-activate binds before it reports anything; wait for the file.
      while (!existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 20));

      const kubelet = new KubeletClient({ socket: path, timeoutMs: 60_000 });
      try {
        const fsInfo = await kubelet.imageFsInfo();
        expect(fsInfo).toEqual({
          ok: true,
          value: [{ mountpoint: "/var/lib/images", usedBytes: "42" }],
        });
        expect(fake.calls("ImageFsInfo")).toHaveLength(1);
      } finally {
        kubelet.close();
      }
    }, 90_000);
  });
});
