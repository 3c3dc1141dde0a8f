import { afterEach, describe, expect, it } from "vitest";

import { BREAK_GLASS, digestOf, ocirImage, startGatedNode, type GatedNode } from "./gated-node";

const UNSIGNED = digestOf("unsigned");
const web = { name: "web", namespace: "shop", uid: "uid-web" };

describe("audit mode and break-glass, through the running proxy", () => {
  let node: GatedNode | undefined;

  afterEach(async () => {
    await node?.stop();
    node = undefined;
  });

  it("in audit mode forwards a pull it would deny, and says so in the log and metrics",
    async () => {
      node = await startGatedNode({ mode: "audit" });
      const pulled = await node.kubelet.pullImage(ocirImage("app", UNSIGNED), { pod: web });

      expect(pulled.ok).toBe(true);
      expect(node.runtime.calls("PullImage")).toHaveLength(1);
      const line = node.logs.records.find((r) => r.event === "pull-decision");
      expect(line).toMatchObject({
        level: 40, wouldDeny: true, verdict: "deny", reason: "unsigned", mode: "audit",
        pod: "web", namespace: "shop", digest: UNSIGNED,
      });
      expect(String(line?.msg)).toContain("would have been denied");
      expect(await node.metrics.registry.metrics()).toContain(
        'pullgate_decisions_total{reason="unsigned",verdict="deny",mode="audit"} 1',
      );
    });

  it("in enforce mode denies the same pull before it reaches the runtime", async () => {
    node = await startGatedNode({ mode: "enforce" });
    const pulled = await node.kubelet.pullImage(ocirImage("app", UNSIGNED), { pod: web });
    expect(pulled.ok).toBe(false);
    expect(node.runtime.calls("PullImage")).toHaveLength(0);
    expect(node.logs.records.some((r) => r.wouldDeny === true)).toBe(false);
  });

  it("audits every break-glass pull with the pod and the image, and counts it", async () => {
    node = await startGatedNode();
    const hotfix = { ...web, name: "hotfix", annotations: BREAK_GLASS };
    expect((await node.kubelet.pullImage(ocirImage("app", UNSIGNED), { pod: hotfix })).ok)
      .toBe(true);

    const line = node.logs.records.find((r) => r.reason === "break-glass");
    expect(line).toMatchObject({ level: 40, pod: "hotfix", namespace: "shop",
      image: ocirImage("app", UNSIGNED) });
    expect(await node.metrics.registry.metrics()).toContain(
      'pullgate_decisions_total{reason="break-glass",verdict="allow",mode="enforce"} 1',
    );
    expect(node.verdicts.size).toBe(0);
  });

  it.each(["True", "TRUE", "yes", "1", " true", "true ", "\"true\""])(
    "does not let the break-glass value %j through, and names it in the denial",
    async (value) => {
      node = await startGatedNode();
      const pod = { ...web, annotations: { "oracle.image-policy.k8s.io/break-glass": value } };
      const pulled = await node.kubelet.pullImage(ocirImage("app", UNSIGNED), { pod });
      expect(pulled.ok).toBe(false);
      expect(pulled.ok ? "" : pulled.details).toContain(JSON.stringify(value));
    },
  );

  it("does not take break-glass from the image's annotations of a PullImage", async () => {
    node = await startGatedNode();
    // Only the sandbox config is the pod's; a kubelet copies the same annotations to both.
    const pulled = await node.kubelet.call("PullImage", {
      image: { image: ocirImage("app", UNSIGNED), annotations: BREAK_GLASS },
      sandbox_config: { metadata: { name: "web", namespace: "shop", uid: "u" } },
    });
    expect(pulled.ok).toBe(false);
  });
});
