import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { decode } from "../cri/fixtures/cri-messages";
import {
  BREAK_GLASS,
  digestOf,
  NAMESPACE,
  ocirImage,
  startGatedNode,
  type GatedNode,
} from "./gated-node";

const SIGNED = digestOf("signed");
const UNSIGNED = digestOf("unsigned");
const SIGNED_ID = `sha256:${"1a".repeat(32)}`;
const UNSIGNED_ID = `sha256:${"2b".repeat(32)}`;
const unsignedImage = {
  id: UNSIGNED_ID,
  repoTags: [`phx.ocir.io/${NAMESPACE}/app:v1`],
  repoDigests: [ocirImage("app", UNSIGNED)],
};
const signedImage = {
  id: SIGNED_ID,
  repoTags: [`phx.ocir.io/${NAMESPACE}/app:v2`],
  repoDigests: [ocirImage("app", SIGNED)],
};
const pod = { name: "web", namespace: "shop", uid: "uid-web" };

describe("the ImageStatus gate", () => {
  let node: GatedNode;

  beforeAll(async () => {
    node = await startGatedNode();
    node.sign("app", SIGNED);
  });

  afterAll(async () => {
    await node.stop();
  });

  beforeEach(() => {
    node.runtime.useDefaults();
    node.setPolicy();
    node.verdicts.clear();
  });

  async function present(image: string, annotations?: Record<string, string>) {
    const answer = await node.kubelet.imageStatus(image, annotations ? { annotations } : {});
    if (!answer.ok) throw new Error(`ImageStatus failed: ${answer.details}`);
    return answer.value !== undefined;
  }

  it.each([
    ["without image annotations (older kubelets)", false],
    ["with the pod's annotations copied into the ImageSpec", true],
  ])(
    "hides an unsigned OCIR image already on the node from a pod %s, so its pull is judged",
    async (_shape, annotateImage) => {
      node.store(unsignedImage);
      const asked = { ...pod, annotations: { team: "a" }, annotateImage };

      const ensured = await node.kubelet.ensureImage(ocirImage("app", UNSIGNED), { pod: asked });

      expect(ensured.ok).toBe(false);
      expect(ensured.ok ? "" : ensured.details).toMatch(/^SignatureValidationFailed: .*unsigned/);
      expect(node.runtime.calls("PullImage")).toHaveLength(0);
    },
  );

  it("shows a signed OCIR image by digest as the runtime reports it", async () => {
    node.store(signedImage);

    const answer = await node.kubelet.imageStatus(ocirImage("app", SIGNED));

    expect(answer).toMatchObject({ ok: true, value: { id: SIGNED_ID } });
    expect(node.runtime.calls("ImageStatus")).toHaveLength(1);
  });

  it("hides an OCIR image named by tag without asking the runtime, even if signed", async () => {
    node.store(signedImage);

    expect(await present(`phx.ocir.io/${NAMESPACE}/app:v2`)).toBe(false);
    expect(node.runtime.calls("ImageStatus")).toHaveLength(0);
  });

  it.each([
    ["its full image ID", UNSIGNED_ID],
    ["an image ID prefix", "2b2b2b2b2b2b"],
    ["a sha256: ID prefix", "sha256:2b2b2b2b"],
    ["a 64-hex image ID", "2b".repeat(32)],
  ])("hides an unsigned OCIR image asked for by %s", async (_form, asked) => {
    node.store(unsignedImage);
    expect(await present(asked)).toBe(false);
    expect(node.runtime.calls("ImageStatus")).toHaveLength(1);
  });

  it("shows a signed OCIR image asked for by its image ID (the kubelet's image user lookup)",
    async () => {
      node.store(signedImage);
      expect(await present(SIGNED_ID)).toBe(true);
    });

  it("hides an image the runtime found by ID under a name the pod did not ask for", async () => {
    // `docker.io/library/2b2b2b2b:latest` is absent by name; the runtime falls back to IDs.
    node.store(unsignedImage);
    expect(await present("2b2b2b2b")).toBe(false);
  });

  it("shows an image that is not from OCIR, by name and by ID", async () => {
    const image = { id: UNSIGNED_ID, repoTags: ["docker.io/library/busybox:1.36"] };
    node.store(image);
    expect(await present("busybox:1.36")).toBe(true);
    expect(await present(UNSIGNED_ID)).toBe(true);
  });

  it("hides an image the runtime found by ID that has no name at all", async () => {
    node.store({ id: UNSIGNED_ID });
    expect(await present(UNSIGNED_ID)).toBe(false);
  });

  it("shows every OCIR image while the policy is disabled", async () => {
    node.setPolicy({ enabled: false });
    node.store(unsignedImage);
    expect(await present(ocirImage("app", UNSIGNED))).toBe(true);
    expect(await present(`phx.ocir.io/${NAMESPACE}/app:v1`)).toBe(true);
  });

  it("hides OCIR images while no policy has loaded (the pull then fails closed)", async () => {
    const fresh = await startGatedNode({ loadPolicy: false });
    try {
      fresh.store(signedImage);
      const answer = await fresh.kubelet.imageStatus(ocirImage("app", SIGNED));
      expect(answer).toEqual({ ok: true, value: undefined });
      const pulled = await fresh.kubelet.pullImage(ocirImage("app", SIGNED), { pod });
      expect(pulled.ok ? "" : pulled.details).toMatch(/^RegistryUnavailable: /);
    } finally {
      await fresh.stop();
    }
  });

  it("shows an image to a break-glass pod whose kubelet copies annotations into the ImageSpec",
    async () => {
      node.store(unsignedImage);
      const image = ocirImage("app", UNSIGNED);

      expect(await present(image, BREAK_GLASS)).toBe(true);

      expect(await present(image)).toBe(false);
      expect(await present(image, { "oracle.image-policy.k8s.io/break-glass": "True" })).toBe(
        false,
      );
      expect(node.verdicts.size).toBe(1);
      const warned = node.logs.records.filter((r) => r.answer === "break-glass");
      expect(warned.at(-1)).toMatchObject({ level: 40, image });
    });

  it("lets a break-glass pod on an older kubelet run a present image through PullImage",
    async () => {
      node.store(unsignedImage);
      const asked = { ...pod, annotations: BREAK_GLASS };

      const ensured = await node.kubelet.ensureImage(ocirImage("app", UNSIGNED), { pod: asked });

      expect(ensured).toMatchObject({ ok: true, value: { pulled: true } });
      expect(await present(ocirImage("app", UNSIGNED))).toBe(false);
    });

  it("answers the image user lookup right after an allowed pull", async () => {
    node.store(signedImage);
    const ensured = await node.kubelet.ensureImage(ocirImage("app", SIGNED), { pod });
    expect(ensured).toMatchObject({ ok: true, value: { pulled: false, imageRef: SIGNED_ID } });

    const raw = node.runtime.calls("ImageStatus").length;
    const answer = await node.kubelet.imageStatus(ocirImage("app", SIGNED));
    expect(answer).toMatchObject({ ok: true, value: { id: SIGNED_ID } });
    expect(node.runtime.calls("ImageStatus")).toHaveLength(raw + 1);
  });

  it("leaves ListImages (image garbage collection) untouched", async () => {
    const listed = await node.kubelet.listImages();
    expect(listed.ok && listed.value.map((image) => image.id)).toEqual([
      "sha256:1111",
      "sha256:3333",
    ]);
  });

  it("passes the runtime's ImageStatus request bytes through unchanged", async () => {
    node.store(signedImage);
    await node.kubelet.imageStatus(ocirImage("app", SIGNED), { verbose: true });
    const received = node.runtime.calls("ImageStatus")[0];
    expect(received && decode("ImageStatusRequest", received.request)).toMatchObject({
      image: { image: ocirImage("app", SIGNED) },
      verbose: true,
    });
  });
});

describe("the ImageStatus gate, switched off or auditing", () => {
  it("forwards every ImageStatus when switched off", async () => {
    const node = await startGatedNode({ imageStatusGate: false });
    try {
      node.store(unsignedImage);
      const answer = await node.kubelet.imageStatus(ocirImage("app", UNSIGNED));
      expect(answer).toMatchObject({ ok: true, value: { id: UNSIGNED_ID } });
    } finally {
      await node.stop();
    }
  });

  it("in audit mode gives the runtime's answer and logs that it would have hidden it",
    async () => {
      const node = await startGatedNode({ mode: "audit" });
      try {
        node.store(unsignedImage);
        const answer = await node.kubelet.imageStatus(ocirImage("app", UNSIGNED));
        expect(answer).toMatchObject({ ok: true, value: { id: UNSIGNED_ID } });
        const line = node.logs.records.find((r) => r.wouldHide === true);
        expect(line).toMatchObject({ level: 40, mode: "audit", image: ocirImage("app", UNSIGNED) });
      } finally {
        await node.stop();
      }
    });
});
