/**
 * A small protobuf wire-format reader and writer. pullgate decodes only the few request
 * fields a decision needs, from bytes a caller controls, so the reader is bounded (message
 * size, string length, field count) and answers malformed input with an error value
 * instead of throwing.
 */

/** Why bytes could not be read as a protobuf message. */
export type WireErrorCode =
  | "too-large"
  | "truncated"
  | "bad-varint"
  | "bad-field-number"
  | "bad-wire-type"
  | "string-too-long"
  | "too-many-fields"
  | "too-many-entries"
  | "bad-utf8";

/** A decoding failure: a stable code and a sentence for logs (never the bytes). */
export interface WireError {
  code: WireErrorCode;
  detail: string;
}

/** A decoded value or the reason there is none. */
export type WireResult<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** How much a single decode may take. */
export interface WireLimits {
  /** Largest message accepted, in bytes. */
  maxMessageBytes: number;
  /** Longest string field accepted, in bytes. */
  maxStringBytes: number;
  /** Most entries accepted in one map field. */
  maxMapEntries: number;
  /** Most fields (known or not) accepted in one message. */
  maxFields: number;
}

/**
 * Defaults sized for kubelet requests: the kubelet's own gRPC limit is 16 MiB, Kubernetes
 * caps a pod's annotations at 256 KiB in total, and a request near these numbers is
 * already far outside anything a kubelet sends.
 */
export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxStringBytes: 256 * 1024,
  maxMapEntries: 4096,
  maxFields: 65536,
};

/** The protobuf wire types pullgate understands; groups (3, 4) are refused. */
export const WireType = { VARINT: 0, FIXED64: 1, BYTES: 2, FIXED32: 5 } as const;

/** A field's payload: a varint's value, or the raw bytes of the other wire types. */
export type WirePayload = { wireType: 0; varint: bigint } | { wireType: 1 | 2 | 5; bytes: Buffer };

/** One field occurrence: its number and its payload. */
export type WireField = { number: number } & WirePayload;

/** Builds an error result. */
export function wireError<T>(code: WireErrorCode, detail: string): WireResult<T> {
  return { ok: false, error: { code, detail } };
}

const MAX_FIELD_NUMBER = 2 ** 29 - 1;

interface VarintRead {
  value: bigint;
  next: number;
}

function readVarint(bytes: Buffer, start: number): WireResult<VarintRead> {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    const at = start + i;
    const byte = bytes[at];
    if (byte === undefined) return wireError("truncated", "varint runs past the end");
    // The tenth byte may carry only the 64th bit; more would overflow 64 bits.
    if (i === 9 && byte > 1) return wireError("bad-varint", "varint overflows 64 bits");
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return { ok: true, value: { value, next: at + 1 } };
  }
  return wireError("bad-varint", "varint longer than 10 bytes");
}

function readPayload(
  bytes: Buffer,
  at: number,
  wireType: number,
): WireResult<{ payload: WirePayload; next: number }> {
  if (wireType === WireType.VARINT) {
    const read = readVarint(bytes, at);
    if (!read.ok) return read;
    const payload = { wireType: 0, varint: read.value.value } as const;
    return { ok: true, value: { payload, next: read.value.next } };
  }
  if (wireType === WireType.FIXED64 || wireType === WireType.FIXED32) {
    const size = wireType === WireType.FIXED64 ? 8 : 4;
    if (at + size > bytes.length) return wireError("truncated", "fixed field runs past the end");
    const payload = { wireType, bytes: bytes.subarray(at, at + size) } as const;
    return { ok: true, value: { payload, next: at + size } };
  }
  if (wireType === WireType.BYTES) {
    const length = readVarint(bytes, at);
    if (!length.ok) return length;
    const end = BigInt(length.value.next) + length.value.value;
    if (end > BigInt(bytes.length)) return wireError("truncated", "length runs past the end");
    const payload = { wireType: 2, bytes: bytes.subarray(length.value.next, Number(end)) } as const;
    return { ok: true, value: { payload, next: Number(end) } };
  }
  return wireError("bad-wire-type", `wire type ${wireType} is not accepted`);
}

/** Splits one message into its field occurrences, in order, within the given limits. */
export function readFields(bytes: Buffer, limits: WireLimits): WireResult<WireField[]> {
  if (bytes.length > limits.maxMessageBytes) {
    return wireError("too-large", `message of ${bytes.length} bytes exceeds the limit`);
  }
  const fields: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (fields.length >= limits.maxFields) return wireError("too-many-fields", "too many fields");

    const tag = readVarint(bytes, at);
    if (!tag.ok) return tag;
    const number = tag.value.value >> 3n;
    if (number < 1n || number > BigInt(MAX_FIELD_NUMBER)) {
      return wireError("bad-field-number", `field number ${number} is out of range`);
    }

    const payload = readPayload(bytes, tag.value.next, Number(tag.value.value & 7n));
    if (!payload.ok) return payload;
    fields.push({ number: Number(number), ...payload.value.payload });
    at = payload.value.next;
  }
  return { ok: true, value: fields };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads a proto3 string: valid UTF-8 (as Go's protobuf requires) within the length bound. */
export function readString(bytes: Buffer, limits: WireLimits): WireResult<string> {
  if (bytes.length > limits.maxStringBytes) {
    return wireError("string-too-long", `string of ${bytes.length} bytes exceeds the limit`);
  }
  try {
    return { ok: true, value: utf8.decode(bytes) };
  } catch {
    // TextDecoder in fatal mode reports bad UTF-8 only by throwing.
    return wireError("bad-utf8", "string is not valid UTF-8");
  }
}

/** Encodes a varint (non-negative, below 2^53). */
export function encodeVarint(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`varint value ${value} is not a non-negative safe integer`);
  }
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** Encodes a length-delimited field (string, bytes or embedded message). */
export function encodeBytesField(number: number, payload: Buffer): Buffer {
  const tag = encodeVarint(number * 8 + WireType.BYTES);
  return Buffer.concat([tag, encodeVarint(payload.length), payload]);
}

/** Encodes a string field; proto3 leaves an empty string out entirely. */
export function encodeStringField(number: number, value: string): Buffer {
  if (value === "") return Buffer.alloc(0);
  return encodeBytesField(number, Buffer.from(value, "utf8"));
}
