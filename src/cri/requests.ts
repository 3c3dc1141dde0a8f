import {
  DEFAULT_WIRE_LIMITS,
  readFields,
  readString,
  wireError,
  type WireField,
  type WireLimits,
  type WireResult,
} from "./wire";

/**
 * The parts of ImageService requests that a decision reads, decoded the way the runtime
 * will read the same bytes: the last occurrence of a scalar wins, repeated occurrences of
 * an embedded message merge, the last duplicate map key wins, and strings must be UTF-8.
 * A message the runtime would refuse, or that exceeds the limits, is an error value.
 */

/** `runtime.v1.ImageSpec`, as far as a decision needs it. */
export interface ImageSpecFields {
  image: string;
  annotations: Map<string, string>;
  userSpecifiedImage: string;
  runtimeHandler: string;
}

/** `runtime.v1.PodSandboxMetadata`: which pod a pull is for. */
export interface SandboxMetadataFields {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

/** The parts of `runtime.v1.PodSandboxConfig` a decision reads. */
export interface SandboxFields {
  metadata?: SandboxMetadataFields;
  annotations: Map<string, string>;
}

/** `runtime.v1.PullImageRequest`. Credentials are only noted as present, never read. */
export interface PullImageFields {
  image: ImageSpecFields;
  sandbox?: SandboxFields;
  hasAuth: boolean;
}

/** `runtime.v1.ImageStatusRequest`. */
export interface ImageStatusFields {
  image: ImageSpecFields;
  verbose: boolean;
}

/** `runtime.v1.RemoveImageRequest`. */
export interface RemoveImageFields {
  image: ImageSpecFields;
}

/** Reads typed values out of one message's field occurrences. */
class MessageView {
  private constructor(
    private readonly fields: WireField[],
    private readonly limits: WireLimits,
  ) {}

  static parse(bytes: Buffer, limits: WireLimits): WireResult<MessageView> {
    const fields = readFields(bytes, limits);
    if (!fields.ok) return fields;
    return { ok: true, value: new MessageView(fields.value, limits) };
  }

  private occurrences(number: number, wireType: 0 | 2): WireResult<WireField[]> {
    const found = this.fields.filter((field) => field.number === number);
    if (found.some((field) => field.wireType !== wireType)) {
      return wireError("bad-wire-type", `field ${number} has an unexpected wire type`);
    }
    return { ok: true, value: found };
  }

  private lastBytes(number: number): WireResult<Buffer | undefined> {
    const found = this.occurrences(number, 2);
    if (!found.ok) return found;
    const last = found.value[found.value.length - 1];
    return { ok: true, value: last && "bytes" in last ? last.bytes : undefined };
  }

  string(number: number): WireResult<string> {
    const bytes = this.lastBytes(number);
    if (!bytes.ok) return bytes;
    if (bytes.value === undefined) return { ok: true, value: "" };
    return readString(bytes.value, this.limits);
  }

  private varint(number: number): WireResult<bigint> {
    const found = this.occurrences(number, 0);
    if (!found.ok) return found;
    const last = found.value[found.value.length - 1];
    return { ok: true, value: last && "varint" in last ? last.varint : 0n };
  }

  bool(number: number): WireResult<boolean> {
    const value = this.varint(number);
    return value.ok ? { ok: true, value: value.value !== 0n } : value;
  }

  uint32(number: number): WireResult<number> {
    // A uint32 keeps the low 32 bits of whatever varint was sent.
    const value = this.varint(number);
    return value.ok ? { ok: true, value: Number(value.value & 0xffffffffn) } : value;
  }

  /** An embedded message: all occurrences concatenated, which is how protobuf merges them. */
  message(number: number): WireResult<MessageView | undefined> {
    const found = this.occurrences(number, 2);
    if (!found.ok) return found;
    if (found.value.length === 0) return { ok: true, value: undefined };
    const parts = found.value.flatMap((field) => ("bytes" in field ? [field.bytes] : []));
    return MessageView.parse(Buffer.concat(parts), this.limits);
  }

  map(number: number): WireResult<Map<string, string>> {
    const found = this.occurrences(number, 2);
    if (!found.ok) return found;
    if (found.value.length > this.limits.maxMapEntries) {
      return wireError("too-many-entries", `map field ${number} has too many entries`);
    }
    const entries = new Map<string, string>();
    for (const field of found.value) {
      if (!("bytes" in field)) continue;
      const entry = MessageView.parse(field.bytes, this.limits);
      if (!entry.ok) return entry;
      const key = entry.value.string(1);
      if (!key.ok) return key;
      const value = entry.value.string(2);
      if (!value.ok) return value;
      entries.set(key.value, value.value);
    }
    return { ok: true, value: entries };
  }
}

type Values<T> = { [K in keyof T]: T[K] extends WireResult<infer V> ? V : never };

/** Collects named results into one object; the first error wins. */
function all<T extends Record<string, WireResult<unknown>>>(results: T): WireResult<Values<T>> {
  const values: Record<string, unknown> = {};
  for (const [name, result] of Object.entries(results)) {
    if (!result.ok) return result;
    values[name] = result.value;
  }
  return { ok: true, value: values as Values<T> };
}

function emptyImageSpec(): ImageSpecFields {
  return { image: "", annotations: new Map(), userSpecifiedImage: "", runtimeHandler: "" };
}

function imageSpec(view: MessageView | undefined): WireResult<ImageSpecFields> {
  if (view === undefined) return { ok: true, value: emptyImageSpec() };
  return all({
    image: view.string(1),
    annotations: view.map(2),
    userSpecifiedImage: view.string(18),
    runtimeHandler: view.string(19),
  });
}

function sandboxMetadata(view: MessageView): WireResult<SandboxMetadataFields> {
  return all({
    name: view.string(1),
    uid: view.string(2),
    namespace: view.string(3),
    attempt: view.uint32(4),
  });
}

function sandboxConfig(view: MessageView): WireResult<SandboxFields> {
  const metadataView = view.message(1);
  if (!metadataView.ok) return metadataView;
  const annotations = view.map(7);
  if (!annotations.ok) return annotations;
  const sandbox: SandboxFields = { annotations: annotations.value };
  if (metadataView.value === undefined) return { ok: true, value: sandbox };

  const metadata = sandboxMetadata(metadataView.value);
  if (!metadata.ok) return metadata;
  sandbox.metadata = metadata.value;
  return { ok: true, value: sandbox };
}

function imageField(view: MessageView): WireResult<ImageSpecFields> {
  const spec = view.message(1);
  return spec.ok ? imageSpec(spec.value) : spec;
}

/** Decodes a PullImageRequest; `auth` is reported only as present or not. */
export function decodePullImageRequest(
  bytes: Buffer,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): WireResult<PullImageFields> {
  const view = MessageView.parse(bytes, limits);
  if (!view.ok) return view;
  const image = imageField(view.value);
  if (!image.ok) return image;
  // Parsed to enforce the same well-formedness as the runtime; its contents are dropped.
  const auth = view.value.message(2);
  if (!auth.ok) return auth;
  const sandboxView = view.value.message(3);
  if (!sandboxView.ok) return sandboxView;

  const request: PullImageFields = { image: image.value, hasAuth: auth.value !== undefined };
  if (sandboxView.value === undefined) return { ok: true, value: request };
  const sandbox = sandboxConfig(sandboxView.value);
  if (!sandbox.ok) return sandbox;
  request.sandbox = sandbox.value;
  return { ok: true, value: request };
}

/** Decodes an ImageStatusRequest. */
export function decodeImageStatusRequest(
  bytes: Buffer,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): WireResult<ImageStatusFields> {
  const view = MessageView.parse(bytes, limits);
  if (!view.ok) return view;
  return all({ image: imageField(view.value), verbose: view.value.bool(2) });
}

/** Decodes a RemoveImageRequest. */
export function decodeRemoveImageRequest(
  bytes: Buffer,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): WireResult<RemoveImageFields> {
  const view = MessageView.parse(bytes, limits);
  if (!view.ok) return view;
  return all({ image: imageField(view.value) });
}
