import { status } from "@grpc/grpc-js";
import { type Decision, denialKind, type Reason } from "../decision/decision";
import { clip } from "../text/clip";

/**
 * The one place a denial becomes what the kubelet receives. The kubelet strips the gRPC
 * code from UNKNOWN errors and matches the message's prefix: `SignatureValidationFailed`
 * and `RegistryUnavailable` become the container's waiting reason (shown by
 * `kubectl get pods`), any other code only a generic ErrImagePull. So every denial is
 * UNKNOWN with one of those two prefixes, then the image, the reason code and what to do.
 */

/** The gRPC status the kubelet receives for a denied pull. */
export interface KubeletStatus {
  code: status;
  details: string;
}

/** A reference can be as long as the kubelet allows; the message stays readable. */
const MAX_SHOWN_IMAGE = 300;

const REMEDY: Partial<Record<Reason, string>> = {
  "invalid-reference": "fix the image reference in the pod spec",
  "unknown-ocir-region": "use an OCIR host of a known region (e.g. phx.ocir.io)",
  "policy-unavailable": "check pullgate's policy source; pulls resume once a policy loads",
  "tag-reference": "reference the image by digest, e.g. image@sha256:<digest>",
  "ocir-unreachable": "retry later; pullgate fails closed while OCIR or Vault cannot answer",
  "untrusted-key": "sign the image with a key named in the cluster's image verification policy",
  "bad-signature": "re-sign the image with a key named in the policy",
  unsigned: "sign the image with a key named in the cluster's image verification policy",
};

/** The prefix the kubelet maps to a waiting reason, for a denial's reason. */
function kubeletPrefix(reason: Reason): "SignatureValidationFailed" | "RegistryUnavailable" {
  return denialKind(reason) === "unavailable" ? "RegistryUnavailable" : "SignatureValidationFailed";
}

/** Turns a denial into the status the kubelet shows a person. */
export function denialStatus(image: string, denied: Decision): KubeletStatus {
  const remedy = REMEDY[denied.reason];
  const parts = [
    `${kubeletPrefix(denied.reason)}: image ${JSON.stringify(clip(image, MAX_SHOWN_IMAGE))}`,
    `denied by pullgate (${denied.reason}): ${denied.detail}.`,
  ];
  if (remedy !== undefined) parts.push(`To fix: ${remedy}.`);
  return { code: status.UNKNOWN, details: parts.join(" ") };
}
