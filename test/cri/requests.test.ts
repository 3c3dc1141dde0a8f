import fc from "fast-check";
import { describe, expect, it } from "vitest";

import {
  decodeImageStatusRequest,
  decodePullImageRequest,
  decodeRemoveImageRequest,
} from "../../src/cri/requests";
import {
  imageNotPresentResponse,
  pullImageResponse,
  removeImageResponse,
} from "../../src/cri/responses";
import {
  DEFAULT_WIRE_LIMITS,
  encodeBytesField,
  encodeStringField,
  encodeVarint,
  type WireLimits,
} from "../../src/cri/wire";
import { decode, encode } from "./fixtures/cri-messages";

const text = fc.string({ unit: "grapheme", maxLength: 40 });
const annotations = fc.dictionary(text, text, { maxKeys: 6 });
const imageSpec = fc.record(
  {
    image: text,
    annotations,
    user_specified_image: text,
    runtime_handler: text,
  },
  { requiredKeys: [] },
);
const auth = fc.record(
  { username: text, password: text, auth: text, identity_token: text },
  { requiredKeys: [] },
);
const sandbox = fc.record(
  {
    metadata: fc.record(
      { name: text, uid: text, namespace: text, attempt: fc.nat({ max: 2 ** 32 - 1 }) },
      { requiredKeys: [] },
    ),
    hostname: text,
    labels: annotations,
    annotations,
    log_directory: text,
  },
  { requiredKeys: [] },
);
const pullRequest = fc.record(
  { image: imageSpec, auth, sandbox_config: sandbox },
  { requiredKeys: [] },
);

function asMap(record: Record<string, string> | undefined): Map<string, string> {
  return new Map(Object.entries(record ?? {}));
}

type SpecInput = {
  image?: string;
  annotations?: Record<string, string>;
  user_specified_image?: string;
  runtime_handler?: string;
};

function expectedSpec(spec: SpecInput | undefined) {
  return {
    image: spec?.image ?? "",
    annotations: asMap(spec?.annotations),
    userSpecifiedImage: spec?.user_specified_image ?? "",
    runtimeHandler: spec?.runtime_handler ?? "",
  };
}

/** Mutations an attacker or a broken peer could make to valid bytes. */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bits: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ maxLength: 12 }),
  }),
);

describe("decoding PullImageRequest", () => {
  it("agrees with protobufjs on every field a decision reads", () => {
    fc.assert(
      fc.property(pullRequest, (request) => {
        const decoded = decodePullImageRequest(encode("PullImageRequest", request));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;

        expect(decoded.value.image).toEqual(expectedSpec(request.image));
        expect(decoded.value.hasAuth).toBe(request.auth !== undefined);
        if (request.sandbox_config === undefined) {
          expect(decoded.value.sandbox).toBeUndefined();
          return;
        }
        const sandboxAnnotations = asMap(request.sandbox_config.annotations);
        expect(decoded.value.sandbox?.annotations).toEqual(sandboxAnnotations);
        const metadata = request.sandbox_config.metadata;
        expect(decoded.value.sandbox?.metadata).toEqual(
          metadata === undefined
            ? undefined
            : {
                name: metadata.name ?? "",
                uid: metadata.uid ?? "",
                namespace: metadata.namespace ?? "",
                attempt: metadata.attempt ?? 0,
              },
        );
      }),
      { numRuns: 500 },
    );
  });

  it("merges a repeated ImageSpec the way protobuf runtimes do", () => {
    // Concatenated encodings merge: the later image wins, annotations accumulate.
    const first = encode("PullImageRequest", {
      image: { image: "phx.ocir.io/ns/signed@sha256:" + "a".repeat(64), annotations: { a: "1" } },
    });
    const second = encode("PullImageRequest", {
      image: { image: "phx.ocir.io/ns/other:latest", annotations: { b: "2" } },
    });
    const decoded = decodePullImageRequest(Buffer.concat([first, second]));

    expect(decoded.ok && decoded.value.image.image).toBe("phx.ocir.io/ns/other:latest");
    expect(decoded.ok && decoded.value.image.annotations).toEqual(
      new Map([
        ["a", "1"],
        ["b", "2"],
      ]),
    );
  });

  it("keeps the last value of a duplicated annotation key", () => {
    const entry = (value: string) =>
      encodeBytesField(7, Buffer.concat([encodeStringField(1, "k"), encodeStringField(2, value)]));
    const bytes = encodeBytesField(3, Buffer.concat([entry("true"), entry("false")]));
    const decoded = decodePullImageRequest(bytes);

    expect(decoded.ok && decoded.value.sandbox?.annotations.get("k")).toBe("false");
  });

  it("reports registry credentials only as present", () => {
    const bytes = encode("PullImageRequest", {
      image: { image: "x" },
      auth: { password: "hunter2-registry-secret" },
    });
    const decoded = decodePullImageRequest(bytes);

    expect(decoded.ok && decoded.value.hasAuth).toBe(true);
    expect(JSON.stringify(decoded.ok && decoded.value)).not.toContain("hunter2");
  });

  it("refuses strings that are not UTF-8, as the runtime would", () => {
    const spec = encodeBytesField(1, Buffer.from([0x70, 0xff, 0x78]));
    const decoded = decodePullImageRequest(encodeBytesField(1, spec));
    expect(decoded.ok ? "ok" : decoded.error.code).toBe("bad-utf8");
  });

  it("refuses a known field sent with the wrong wire type", () => {
    const spec = Buffer.concat([encodeVarint(1 * 8 + 0), encodeVarint(5)]);
    const decoded = decodePullImageRequest(encodeBytesField(1, spec));
    expect(decoded.ok ? "ok" : decoded.error.code).toBe("bad-wire-type");
  });

  it("skips unknown fields of every accepted wire type", () => {
    const unknown = Buffer.concat([
      encodeVarint(40 * 8 + 0),
      encodeVarint(7),
      encodeVarint(41 * 8 + 1),
      Buffer.alloc(8),
      encodeVarint(42 * 8 + 5),
      Buffer.alloc(4),
      encodeBytesField(43, Buffer.from("later")),
    ]);
    const known = encode("PullImageRequest", { image: { image: "a/b:c" } });
    const bytes = Buffer.concat([unknown, known]);
    const decoded = decodePullImageRequest(bytes);
    expect(decoded.ok && decoded.value.image.image).toBe("a/b:c");
  });

  it.each([
    ["field number zero", Buffer.from([0x02, 0x00]), "bad-field-number"],
    ["a group", Buffer.from([0x0b, 0x0c]), "bad-wire-type"],
    ["a length past the end", Buffer.from([0x0a, 0x05, 0x01]), "truncated"],
    ["an unfinished varint", Buffer.from([0x08, 0xff]), "truncated"],
    ["an eleven-byte varint", Buffer.from([0x08, ...Array(10).fill(0xff), 0x01]), "bad-varint"],
  ])("refuses %s", (_name, bytes, code) => {
    const decoded = decodePullImageRequest(bytes);
    expect(decoded.ok ? "ok" : decoded.error.code).toBe(code);
  });

  describe("within bounds", () => {
    const limits: WireLimits = {
      maxMessageBytes: 4096,
      maxStringBytes: 64,
      maxMapEntries: 3,
      maxFields: 100,
    };

    it("refuses a message over the size limit", () => {
      const decoded = decodePullImageRequest(Buffer.alloc(4097), limits);
      expect(decoded.ok ? "ok" : decoded.error.code).toBe("too-large");
    });

    it("refuses a string over the length limit", () => {
      const bytes = encode("PullImageRequest", { image: { image: "x".repeat(65) } });
      const decoded = decodePullImageRequest(bytes, limits);
      expect(decoded.ok ? "ok" : decoded.error.code).toBe("string-too-long");
    });

    it("refuses a map with too many entries", () => {
      const bytes = encode("PullImageRequest", {
        sandbox_config: { annotations: { a: "1", b: "2", c: "3", d: "4" } },
      });
      const decoded = decodePullImageRequest(bytes, limits);
      expect(decoded.ok ? "ok" : decoded.error.code).toBe("too-many-entries");
    });

    it("refuses a message with too many fields", () => {
      const bytes = Buffer.concat(Array.from({ length: 101 }, () => Buffer.from([0x50, 0x01])));
      const decoded = decodePullImageRequest(bytes, limits);
      expect(decoded.ok ? "ok" : decoded.error.code).toBe("too-many-fields");
    });
  });
});

describe("decoding ImageStatusRequest and RemoveImageRequest", () => {
  it("agrees with protobufjs on image and verbose", () => {
    fc.assert(
      fc.property(imageSpec, fc.boolean(), (image, verbose) => {
        const status = decodeImageStatusRequest(encode("ImageStatusRequest", { image, verbose }));
        expect(status).toEqual({ ok: true, value: { image: expectedSpec(image), verbose } });

        const removal = decodeRemoveImageRequest(encode("RemoveImageRequest", { image }));
        expect(removal).toEqual({ ok: true, value: { image: expectedSpec(image) } });
      }),
      { numRuns: 300 },
    );
  });
});

describe("hostile bytes", () => {
  const decoders = [decodePullImageRequest, decodeImageStatusRequest, decodeRemoveImageRequest];

  it("never make a decoder throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const decodeRequest of decoders) {
          const result = decodeRequest(Buffer.from(bytes));
          expect(typeof result.ok).toBe("boolean");
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("never make a decoder throw when they are mutations of valid requests", () => {
    fc.assert(
      fc.property(
        pullRequest,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (request, changes) => {
          let bytes = encode("PullImageRequest", request);
          for (const change of changes) bytes = applyMutation(bytes, change);
          for (const decodeRequest of decoders) {
            expect(typeof decodeRequest(bytes).ok).toBe("boolean");
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("never make a decoder throw with the default limits and a large length prefix", () => {
    const bytes = Buffer.concat([Buffer.from([0x0a]), encodeVarint(2 ** 50)]);
    expect(decodePullImageRequest(bytes, DEFAULT_WIRE_LIMITS).ok).toBe(false);
  });
});

function applyMutation(bytes: Buffer, change: Mutation): Buffer {
  if (bytes.length === 0) return Buffer.from(change.kind === "insert" ? change.bytes : []);
  const at = change.at % bytes.length;
  switch (change.kind) {
    case "flip": {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] ?? 0) ^ change.bits;
      return copy;
    }
    case "cut":
      return bytes.subarray(0, at);
    case "insert":
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(change.bytes), bytes.subarray(at)]);
  }
}

type Mutation =
  | { kind: "flip"; at: number; bits: number }
  | { kind: "cut"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array };

describe("synthesised responses", () => {
  it("say 'not present' to ImageStatus in zero bytes", () => {
    expect(imageNotPresentResponse()).toHaveLength(0);
    const decoded = decode<{ image: unknown }>("ImageStatusResponse", imageNotPresentResponse());
    expect(decoded.image).toBeNull();
  });

  it("encode a PullImageResponse protobufjs reads back", () => {
    fc.assert(
      fc.property(text, (imageRef) => {
        const bytes = pullImageResponse(imageRef);
        expect(decode<{ image_ref: string }>("PullImageResponse", bytes).image_ref).toBe(imageRef);
      }),
    );
  });

  it("encode an empty RemoveImageResponse", () => {
    expect(removeImageResponse()).toHaveLength(0);
  });
});
