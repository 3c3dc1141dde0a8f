import { Metadata } from "@grpc/grpc-js";

/**
 * Headers that belong to one HTTP/2 hop and are set by grpc-js itself on the next hop;
 * copying them would duplicate or contradict what grpc-js writes.
 */
const HOP_HEADERS: ReadonlySet<string> = new Set([
  "content-type",
  "date",
  "te",
  "user-agent",
  "accept-encoding",
  "grpc-encoding",
  "grpc-accept-encoding",
  "grpc-timeout",
  "grpc-status",
  "grpc-message",
]);

/** A copy of call metadata without per-hop transport headers, for the next hop. */
export function forwardableMetadata(metadata: Metadata): Metadata {
  const copy = new Metadata();
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    if (HOP_HEADERS.has(key)) continue;
    for (const value of values) copy.add(key, value);
  }
  return copy;
}
