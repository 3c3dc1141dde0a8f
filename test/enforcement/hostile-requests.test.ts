import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { UNARY_METHODS } from "../../src/cri/methods";
import type { UnaryMethod } from "../../src/cri/interceptor";
import { parseImageReference } from "../../src/reference/image-reference";
import { classifyRegistryHost } from "../../src/ocir/regions";
import { decode, encode } from "../cri/fixtures/cri-messages";
import { RawClient } from "../cri/fixtures/raw-client";
import {
  BREAK_GLASS,
  digestOf,
  NAMESPACE,
  ocirImage,
  startGatedNode,
  type GatedNode,
} from "./gated-node";

/**
 * Random and mutated bytes for every ImageService request, sent through the running proxy.
 * Whatever arrives, pullgate answers every call, never fails inside itself, never forwards
 * an OCIR pull the runtime would read as anything but the one signed image (or a
 * break-glass pod's), and never tells a pod without break-glass that an unsigned image is
 * present.
 */

const SIGNED = digestOf("signed");
const UNSIGNED = digestOf("unsigned");
const UNSIGNED_ID = `sha256:${"2b".repeat(32)}`;
const RUNS = 120;

interface Decoded {
  image?: { image?: string; annotations?: Record<string, string> };
  sandbox_config?: { annotations?: Record<string, string> } | null;
}

/** Valid requests of every unary method, to mutate. */
function seeds(): [UnaryMethod, Buffer][] {
  const pod = {
    metadata: { name: "p", namespace: "n", uid: "u", attempt: 0 },
    annotations: { team: "a" },
  };
  return [
    ["PullImage", encode("PullImageRequest", {
      image: { image: ocirImage("app", UNSIGNED) }, sandbox_config: pod })],
    ["PullImage", encode("PullImageRequest", {
      image: { image: ocirImage("app", UNSIGNED) },
      sandbox_config: { ...pod, annotations: { ...BREAK_GLASS, x: "true" } } })],
    ["PullImage", encode("PullImageRequest", {
      image: { image: `phx.ocir.io/${NAMESPACE}/app:v1@${UNSIGNED}` },
      auth: { username: "u", password: "secret" }, sandbox_config: pod })],
    ["ImageStatus", encode("ImageStatusRequest", {
      image: { image: ocirImage("app", UNSIGNED), annotations: { team: "a" } } })],
    ["ImageStatus", encode("ImageStatusRequest", {
      image: { image: UNSIGNED_ID, annotations: BREAK_GLASS }, verbose: true })],
    ["RemoveImage", encode("RemoveImageRequest", { image: { image: UNSIGNED_ID } })],
    ["ListImages", encode("ListImagesRequest", { filter: { image: { image: "a" } } })],
    ["ImageFsInfo", Buffer.alloc(0)],
  ];
}

/** Flips, overwrites, inserts and cuts bytes of a seed. */
const mutated = fc
  .tuple(
    fc.constantFrom(...seeds()),
    fc.array(
      fc.tuple(
        fc.constantFrom("flip", "set", "insert", "cut"),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
      ),
      { minLength: 1, maxLength: 6 },
    ),
  )
  .map(([[method, seed], edits]) => {
    let bytes = Buffer.from(seed);
    for (const [kind, at, value] of edits) {
      const i = bytes.length === 0 ? 0 : at % bytes.length;
      if (kind === "flip" && bytes.length > 0) bytes[i] = (bytes[i] ?? 0) ^ (1 << (value % 8));
      if (kind === "set" && bytes.length > 0) bytes[i] = value;
      if (kind === "insert") {
        bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([value]), bytes.subarray(i)]);
      }
      if (kind === "cut") bytes = bytes.subarray(0, i);
    }
    return [method, bytes] as const;
  });

const random = fc.tuple(
  fc.constantFrom(...UNARY_METHODS),
  fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
);

/** What the runtime would read from forwarded bytes, or undefined if it would refuse them. */
function asRuntimeReads(name: string, bytes: Buffer): Decoded | undefined {
  try {
    return decode<Decoded>(name, bytes);
  } catch {
    return undefined;
  }
}

function isOcir(image: string): boolean {
  const parsed = parseImageReference(image);
  return parsed.ok && classifyRegistryHost(parsed.reference.hostname).kind !== "not-ocir";
}

describe("hostile ImageService requests through the running proxy", () => {
  let node: GatedNode;
  let client: RawClient;

  beforeAll(async () => {
    node = await startGatedNode();
    node.sign("app", SIGNED);
    node.store({
      id: UNSIGNED_ID,
      repoTags: [`phx.ocir.io/${NAMESPACE}/app:v1`],
      repoDigests: [ocirImage("app", UNSIGNED)],
    });
    client = new RawClient(node.socket);
  });

  afterAll(async () => {
    client.close();
    await node.stop();
  });

  async function send(method: UnaryMethod, bytes: Buffer): Promise<void> {
    const pullsBefore = node.runtime.calls("PullImage").length;
    const outcome = await client.unary(method, bytes, { deadline: new Date(Date.now() + 10_000) });
    expect(outcome.details).not.toBe("pullgate failed the call");

    for (const pull of node.runtime.calls("PullImage").slice(pullsBefore)) {
      const read = asRuntimeReads("PullImageRequest", pull.request);
      const image = read?.image?.image ?? "";
      if (read === undefined || !isOcir(image)) continue;
      const breakGlass = read.sandbox_config?.annotations?.[Object.keys(BREAK_GLASS)[0] ?? ""];
      const parsed = parseImageReference(image);
      const signedImage = parsed.ok && parsed.reference.digest === SIGNED &&
        parsed.reference.path === `${NAMESPACE}/app`;
      expect(signedImage || breakGlass === "true", `forwarded ${image}`).toBe(true);
    }

    if (method === "ImageStatus" && outcome.response !== undefined) {
      const answer = asRuntimeReads("ImageStatusResponse", outcome.response) as
        { image?: { id?: string } | null } | undefined;
      if (answer?.image?.id === UNSIGNED_ID) {
        const asked = asRuntimeReads("ImageStatusRequest", bytes);
        const breakGlass = asked?.image?.annotations?.[Object.keys(BREAK_GLASS)[0] ?? ""];
        expect(breakGlass, "an unsigned image was shown as present").toBe("true");
      }
    }
  }

  it("survives random bytes for every method and forwards no unsigned OCIR pull", async () => {
    await fc.assert(fc.asyncProperty(random, ([method, bytes]) => send(method, bytes)),
      { numRuns: RUNS });
  });

  it("survives mutations of valid requests and forwards no unsigned OCIR pull", async () => {
    await fc.assert(fc.asyncProperty(mutated, ([method, bytes]) => send(method, bytes)),
      { numRuns: RUNS * 3 });
  });

  it("still serves an honest pull afterwards, and logged no fault of its own", async () => {
    const pulled = await node.kubelet.pullImage(ocirImage("app", SIGNED), {
      pod: { name: "web", namespace: "shop", uid: "u" },
    });
    expect(pulled.ok).toBe(true);
    const faults = node.logs.records.filter((r) => r.level === 50);
    expect(faults).toEqual([]);
  });
});
