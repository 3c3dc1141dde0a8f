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
 * The names under which the runtime says an image is stored, read from its
 * ImageStatusResponse. The gate uses them to learn which image the runtime actually found,
 * which is not always the one the request named: runtimes also accept image IDs and ID
 * prefixes in ImageStatus.
 */

/** `runtime.v1.Image`, as far as the gate needs it. */
export interface ReportedImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

/** Limits for runtime answers: verbose answers carry runtime JSON, so allow the gRPC max. */
export const RESPONSE_WIRE_LIMITS: Readonly<WireLimits> = {
  ...DEFAULT_WIRE_LIMITS,
  maxMessageBytes: 16 * 1024 * 1024,
  maxStringBytes: 16 * 1024 * 1024,
};

/** The image an ImageStatusResponse reports, or undefined when it reports none. */
export function decodeImageStatusResponse(
  bytes: Buffer,
  limits: WireLimits = RESPONSE_WIRE_LIMITS,
): WireResult<ReportedImage | undefined> {
  const fields = readFields(bytes, limits);
  if (!fields.ok) return fields;
  const images = lengthDelimited(fields.value, 1);
  if (!images.ok) return images;
  // Repeated occurrences of an embedded message merge, as the kubelet's decoder merges them.
  if (images.value.length === 0) return { ok: true, value: undefined };
  return decodeImage(Buffer.concat(images.value), limits);
}

function decodeImage(bytes: Buffer, limits: WireLimits): WireResult<ReportedImage> {
  const fields = readFields(bytes, limits);
  if (!fields.ok) return fields;
  const ids = strings(fields.value, 1, limits);
  if (!ids.ok) return ids;
  const repoTags = strings(fields.value, 2, limits);
  if (!repoTags.ok) return repoTags;
  const repoDigests = strings(fields.value, 3, limits);
  if (!repoDigests.ok) return repoDigests;
  const id = ids.value[ids.value.length - 1] ?? "";
  return { ok: true, value: { id, repoTags: repoTags.value, repoDigests: repoDigests.value } };
}

function lengthDelimited(fields: readonly WireField[], number: number): WireResult<Buffer[]> {
  const found: Buffer[] = [];
  for (const field of fields) {
    if (field.number !== number) continue;
    if (!("bytes" in field) || field.wireType !== 2) {
      return wireError("bad-wire-type", `field ${number} has an unexpected wire type`);
    }
    found.push(field.bytes);
  }
  return { ok: true, value: found };
}

function strings(fields: readonly WireField[], number: number, limits: WireLimits)
  : WireResult<string[]> {
  const raw = lengthDelimited(fields, number);
  if (!raw.ok) return raw;
  const values: string[] = [];
  for (const bytes of raw.value) {
    const value = readString(bytes, limits);
    if (!value.ok) return value;
    values.push(value.value);
  }
  return { ok: true, value: values };
}
