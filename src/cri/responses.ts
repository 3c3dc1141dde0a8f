import { encodeStringField } from "./wire";

/**
 * The few ImageService responses pullgate answers itself instead of the runtime. In proto3
 * a message whose fields all hold their defaults encodes as zero bytes.
 */

/**
 * An ImageStatusResponse saying the image is not on the node: no `image` field and no
 * `info`, which is zero bytes on the wire. The kubelet reads it as "absent" and pulls.
 */
export function imageNotPresentResponse(): Buffer {
  return Buffer.alloc(0);
}

/** A PullImageResponse naming the image reference the runtime stored the image under. */
export function pullImageResponse(imageRef: string): Buffer {
  return encodeStringField(1, imageRef);
}

/** A RemoveImageResponse, which has no fields: zero bytes. */
export function removeImageResponse(): Buffer {
  return Buffer.alloc(0);
}
