import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { KubeletClient } from "../../lab/kubelet-client";
import type {
  CallContext,
  ImageServiceInterceptor,
  Interception,
  UnaryMethod,
} from "../../src/cri/interceptor";
import {
  startImageServiceProxy,
  type ImageServiceProxy,
  type UpstreamCallReport,
} from "../../src/cri/proxy";
import { imageNotPresentResponse } from "../../src/cri/responses";
import { encodeBytesField, encodeVarint } from "../../src/cri/wire";
import { decode, encode } from "./fixtures/cri-messages";
import { FakeRuntime, type FakeAnswer } from "./fixtures/fake-runtime";
import { captureLogs } from "./fixtures/log-capture";
import { RawClient } from "./fixtures/raw-client";

/** An interceptor whose behaviour each test sets, recording what it was shown. */
class ScriptedInterceptor implements ImageServiceInterceptor {
  before: (method: UnaryMethod, request: Buffer) => Interception | Promise<Interception> = () => ({
    action: "forward",
  });
  after?: (method: UnaryMethod, response: Buffer) => Buffer;
  seen: { method: UnaryMethod; request: Buffer; context: CallContext }[] = [];

  async beforeUnary(method: UnaryMethod, request: Buffer, context: CallContext) {
    this.seen.push({ method, request, context });
    return this.before(method, request);
  }

  async afterUnary(method: UnaryMethod, _request: Buffer, response: Buffer) {
    return this.after ? this.after(method, response) : response;
  }
}

const PULL = encode("PullImageRequest", {
  image: { image: "phx.ocir.io/ns/app@sha256:" + "a".repeat(64) },
  auth: { username: "robot", password: "hunter2-registry-secret" },
  sandbox_config: {
    metadata: { name: "web-1", namespace: "shop", uid: "u-1", attempt: 2 },
    annotations: { "oracle.image-policy.k8s.io/break-glass": "false" },
  },
});

describe("the image service proxy", () => {
  let dir: string;
  let fake: FakeRuntime;
  let proxy: ImageServiceProxy;
  let client: RawClient;
  let kubelet: KubeletClient;
  const interceptor = new ScriptedInterceptor();
  const reports: UpstreamCallReport[] = [];
  const logs = captureLogs();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pullgate-proxy-"));
    fake = await FakeRuntime.start(dir);
    const socket = join(dir, "run", "pullgate.sock");
    proxy = await startImageServiceProxy({
      listen: { kind: "path", path: socket },
      upstreamSocket: fake.socket,
      interceptor,
      logger: logs.logger,
      observer: (report) => reports.push(report),
    });
    client = new RawClient(socket);
    kubelet = new KubeletClient({ socket, timeoutMs: 30_000 });
  });

  afterAll(async () => {
    client.close();
    kubelet.close();
    await proxy.close(1000);
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    fake.useDefaults();
    interceptor.before = () => ({ action: "forward" });
    interceptor.after = undefined;
    interceptor.seen = [];
    reports.length = 0;
  });

  it("delivers request bytes to the runtime unchanged, unknown fields included", async () => {
    // Field 99 is unknown to every CRI version; it must survive the trip.
    const unknown = Buffer.concat([encodeVarint(99 * 8 + 2), encodeVarint(3), Buffer.from("new")]);
    const request = Buffer.concat([PULL, unknown]);
    const outcome = await client.unary("PullImage", request);

    expect(outcome.code).toBe(status.OK);
    expect(fake.calls("PullImage")).toHaveLength(1);
    expect(fake.calls("PullImage")[0]?.request.equals(request)).toBe(true);
    expect(interceptor.seen[0]?.request.equals(request)).toBe(true);
  });

  it("returns the runtime's response bytes unchanged, unknown fields included", async () => {
    const response = Buffer.concat([
      encode("ImageStatusResponse", { image: { id: "sha256:9999" } }),
      encodeBytesField(77, Buffer.from("future field")),
    ]);
    fake.answer("ImageStatus", () => ({ response }));
    const outcome = await client.unary("ImageStatus", encode("ImageStatusRequest", {}));

    expect(outcome.code).toBe(status.OK);
    expect(outcome.response?.equals(response)).toBe(true);
  });

  it("forwards every unary method to the runtime", async () => {
    for (const method of ["ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo"]) {
      const outcome = await client.unary(method as UnaryMethod, Buffer.alloc(0));
      expect(outcome.code, method).toBe(status.OK);
    }
    expect(fake.received.map((call) => call.method)).toEqual([
      "ListImages",
      "ImageStatus",
      "PullImage",
      "RemoveImage",
      "ImageFsInfo",
    ]);
  });

  it("passes the runtime's error code, details, headers and trailers to the caller", async () => {
    const headers = new Metadata();
    headers.set("x-runtime-header", "early");
    const trailers = new Metadata();
    trailers.set("x-runtime-trace", "abc123");
    trailers.set("x-runtime-bin", Buffer.from([0, 1, 2, 255]));
    fake.answer("PullImage", () => ({
      code: status.RESOURCE_EXHAUSTED,
      details: "rpc error: disk full while unpacking layer",
      trailers,
    }));
    fake.answer("ImageStatus", () => ({
      response: Buffer.alloc(0),
      headers,
      trailers,
    }));

    const failed = await client.unary("PullImage", PULL);
    expect(failed.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(failed.details).toBe("rpc error: disk full while unpacking layer");
    expect(failed.trailers.get("x-runtime-trace")).toEqual(["abc123"]);
    expect(failed.trailers.get("x-runtime-bin")).toEqual([Buffer.from([0, 1, 2, 255])]);

    const answered = await client.unary("ImageStatus", Buffer.alloc(0));
    expect(answered.code).toBe(status.OK);
    expect(answered.headers?.get("x-runtime-header")).toEqual(["early"]);
    expect(answered.trailers.get("x-runtime-trace")).toEqual(["abc123"]);
  });

  it("passes the caller's metadata to the runtime", async () => {
    const metadata = new Metadata();
    metadata.set("x-caller-note", "from-kubelet");
    await client.unary("ListImages", Buffer.alloc(0), { metadata });

    expect(fake.calls("ListImages")[0]?.metadata.get("x-caller-note")).toEqual(["from-kubelet"]);
  });

  it("gives the runtime the caller's deadline", async () => {
    const deadline = new Date(Date.now() + 90_000);
    await client.unary("PullImage", PULL, { deadline });

    const seen = fake.calls("PullImage")[0]?.deadline;
    expect(seen).toBeDefined();
    // grpc-timeout travels in whole units, so allow its rounding (at most a second here).
    expect(seen?.getTime()).toBeLessThanOrEqual(deadline.getTime() + 1000);
    expect(seen?.getTime()).toBeGreaterThan(deadline.getTime() - 60_000);
    const told = interceptor.seen[0]?.context.deadline?.getTime() ?? 0;
    expect(Math.abs(told - (seen?.getTime() ?? 0))).toBeLessThanOrEqual(1000);
  });

  it("sends no deadline to the runtime when the caller sent none", async () => {
    await client.unary("ImageFsInfo", Buffer.alloc(0));
    expect(fake.calls("ImageFsInfo")[0]?.deadline).toBeUndefined();
  });

  it("cancels the runtime's call when the caller cancels", async () => {
    let release: (answer: FakeAnswer) => void = () => undefined;
    fake.answer("PullImage", () => ({ wait: new Promise((resolve) => (release = resolve)) }));
    const arrived = fake.nextCall();
    let cancel: () => void = () => undefined;
    const outcome = client.unary("PullImage", PULL, { onStarted: (c) => (cancel = c) });

    const upstreamCall = await arrived;
    cancel();
    await upstreamCall.cancelled;
    expect((await outcome).code).toBe(status.CANCELLED);
    release({ response: Buffer.alloc(0) });
  });

  it("tells the interceptor when the caller's deadline passes, and forwards nothing", async () => {
    let aborted: (reason: unknown) => void = () => undefined;
    const sawAbort = new Promise((resolve) => (aborted = resolve));
    interceptor.before = (_method, _request) => {
      const { signal } = interceptor.seen[interceptor.seen.length - 1]?.context ?? {};
      return new Promise((resolve) => {
        signal?.addEventListener("abort", () => {
          aborted(signal.reason);
          resolve({ action: "forward" });
        });
      });
    };
    const outcome = await client.unary("PullImage", PULL, {
      deadline: new Date(Date.now() + 300),
    });

    expect(outcome.code).toBe(status.DEADLINE_EXCEEDED);
    expect(await sawAbort).toBeInstanceOf(Error);
    expect(fake.calls("PullImage")).toHaveLength(0);
  });

  it("streams every StreamImages batch in order, bytes unchanged", async () => {
    const batches = [
      encode("StreamImagesResponse", { images: [{ id: "sha256:a1" }, { id: "sha256:a2" }] }),
      encode("StreamImagesResponse", { images: [{ id: "sha256:b1" }] }),
      Buffer.concat([
        encode("StreamImagesResponse", { images: [{ id: "sha256:c1" }] }),
        encodeBytesField(50, Buffer.from("unknown")),
      ]),
    ];
    fake.answerStream({ messages: batches });
    const request = encode("StreamImagesRequest", { filter: { image: { image: "x" } } });

    const outcome = await client.stream("StreamImages", request);
    expect(outcome.code).toBe(status.OK);
    expect(outcome.messages).toEqual(batches);
    expect(fake.calls("StreamImages")[0]?.request.equals(request)).toBe(true);

    const listed = await kubelet.streamImages();
    expect(listed.ok && listed.value.map((image) => image.id)).toEqual([
      "sha256:a1",
      "sha256:a2",
      "sha256:b1",
      "sha256:c1",
    ]);
  });

  it("ends a StreamImages call with the runtime's error status", async () => {
    fake.answerStream({
      messages: [encode("StreamImagesResponse", { images: [{ id: "sha256:a1" }] })],
      error: { code: status.UNIMPLEMENTED, details: "StreamImages is not supported" },
    });
    const outcome = await client.stream("StreamImages", Buffer.alloc(0));
    expect(outcome.code).toBe(status.UNIMPLEMENTED);
    expect(outcome.details).toBe("StreamImages is not supported");
  });

  it("never lets a rejected call reach the runtime", async () => {
    interceptor.before = () => ({
      action: "reject",
      code: status.UNKNOWN,
      details: "SignatureValidationFailed: image is unsigned",
    });
    const outcome = await kubelet.pullImage("phx.ocir.io/ns/app:1");

    expect(outcome).toEqual({
      ok: false,
      code: status.UNKNOWN,
      details: "SignatureValidationFailed: image is unsigned",
    });
    expect(fake.calls("PullImage")).toHaveLength(0);
    expect(reports).toHaveLength(0);
  });

  it("answers from the interceptor without asking the runtime", async () => {
    interceptor.before = (method) =>
      method === "ImageStatus"
        ? { action: "reply", response: imageNotPresentResponse() }
        : { action: "forward" };
    const outcome = await kubelet.imageStatus("phx.ocir.io/ns/app@sha256:" + "b".repeat(64));

    expect(outcome).toEqual({ ok: true, value: undefined });
    expect(fake.calls("ImageStatus")).toHaveLength(0);
  });

  it("lets the interceptor see and replace a successful response", async () => {
    interceptor.after = (method, response) =>
      method === "ImageStatus" && decode<{ image: unknown }>("ImageStatusResponse", response).image
        ? imageNotPresentResponse()
        : response;
    const outcome = await kubelet.imageStatus("example.com/app:1");

    expect(fake.calls("ImageStatus")).toHaveLength(1);
    expect(outcome).toEqual({ ok: true, value: undefined });
  });

  it("fails the call without forwarding when the interceptor throws", async () => {
    interceptor.before = () => {
      throw new Error("decision crashed");
    };
    const outcome = await client.unary("PullImage", PULL);

    expect(outcome.code).toBe(status.INTERNAL);
    expect(fake.calls("PullImage")).toHaveLength(0);
    const failure = logs.records.find((record) => record.msg === "call failed inside pullgate");
    expect(failure?.level).toBe(50);
  });

  it("reports each runtime call with its method and code", async () => {
    fake.answer("RemoveImage", () => ({ code: status.NOT_FOUND, details: "no such image" }));
    await kubelet.removeImage("example.com/gone:1");
    await kubelet.listImages();

    expect(reports.map(({ method, code }) => ({ method, code }))).toEqual([
      { method: "RemoveImage", code: status.NOT_FOUND },
      { method: "ListImages", code: status.OK },
    ]);
    expect(reports.every((report) => report.seconds >= 0)).toBe(true);
  });

  it("logs pulls at info and polling calls at debug, never the request body", async () => {
    const before = logs.records.length;
    await client.unary("PullImage", PULL);
    await kubelet.imageFsInfo();
    const records = logs.records.slice(before);

    const pull = records.filter((record) => record.rpc === "PullImage");
    expect(pull.map((record) => [record.level, record.msg])).toEqual([
      [30, "call started"],
      [30, "call ended"],
    ]);
    expect(pull[1]).toMatchObject({ outcome: "forwarded", code: "OK" });
    const fsInfo = records.filter((record) => record.rpc === "ImageFsInfo");
    expect(fsInfo.map((record) => record.level)).toEqual([20, 20]);
    expect(logs.text()).not.toContain("hunter2-registry-secret");
    expect(logs.text()).not.toContain("robot");
  });

  it("makes kubelet-shaped calls whose bytes decode as the kubelet meant them", async () => {
    fake.answer("ImageStatus", () => ({ response: imageNotPresentResponse() }));
    const pod = {
      name: "web-1",
      namespace: "shop",
      uid: "uid-9",
      attempt: 1,
      annotations: { team: "payments" },
      annotateImage: true,
    };
    const ensured = await kubelet.ensureImage("phx.ocir.io/ns/app:1", {
      pod,
      auth: { username: "u", password: "p" },
    });

    expect(ensured).toEqual({ ok: true, value: { pulled: true, imageRef: "sha256:2222" } });
    const status = decode<{ image: { annotations: Record<string, string> } }>(
      "ImageStatusRequest",
      fake.calls("ImageStatus")[0]?.request ?? Buffer.alloc(0),
    );
    expect(status.image.annotations).toEqual({ team: "payments" });
    const pull = decode<Record<string, unknown>>(
      "PullImageRequest",
      fake.calls("PullImage")[0]?.request ?? Buffer.alloc(0),
    );
    expect(pull).toMatchObject({
      image: { image: "phx.ocir.io/ns/app:1", annotations: { team: "payments" } },
      auth: { username: "u", password: "p" },
      sandbox_config: {
        metadata: { name: "web-1", namespace: "shop", uid: "uid-9", attempt: 1 },
        annotations: { team: "payments" },
      },
    });
  });
});
