import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { decision, REASONS, verdictFor } from "../../src/decision/decision";
import { denialStatus } from "../../src/cri/kubelet-status";

const IMAGE = "phx.ocir.io/ns/repo:latest";

describe("what the kubelet receives for a denial", () => {
  const denials = REASONS.filter((reason) => verdictFor(reason) === "deny");

  it.each(denials)("%s is UNKNOWN with a prefix the kubelet turns into a reason", (reason) => {
    const sent = denialStatus(IMAGE, decision(reason, "because"));
    expect(sent.code).toBe(status.UNKNOWN);
    expect(sent.details).toMatch(/^(SignatureValidationFailed|RegistryUnavailable): /);
    expect(sent.details).toContain(`(${reason})`);
    expect(sent.details).toContain(JSON.stringify(IMAGE));
  });

  it("reports failing closed as RegistryUnavailable", () => {
    for (const reason of ["ocir-unreachable", "policy-unavailable"] as const) {
      expect(denialStatus(IMAGE, decision(reason, "x")).details).toMatch(/^RegistryUnavailable: /);
    }
  });

  it("tells a person to reference the image by digest", () => {
    const sent = denialStatus(IMAGE, decision("tag-reference", "by tag"));
    expect(sent.details).toMatch(/^SignatureValidationFailed: image ".*" denied by pullgate/);
    expect(sent.details).toContain("reference the image by digest");
  });
});
