import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { createVaultKey } from "../../lab/oci-cli-signer";
import { OciCallError } from "../../src/oci/sdk-setup";
import { VaultKeySource, type VaultKeySourceOptions } from "../../src/oci/vault-keys";
import { startOciWorld, type OciWorld } from "./oci-world";

let world: OciWorld;
const endpointsAskedFor: string[] = [];

function newSource(more: Partial<VaultKeySourceOptions> = {}): VaultKeySource {
  return new VaultKeySource({
    auth: world.auth,
    managementEndpoint: (keyId) => {
      endpointsAskedFor.push(keyId);
      return world.fake.url;
    },
    ...more,
  });
}

async function failure(promise: Promise<unknown>): Promise<OciCallError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OciCallError);
  return error as OciCallError;
}

const lookups = () => world.fake.requestCount("getKeyVersion");
const soon = () => AbortSignal.timeout(5000);

beforeAll(async () => {
  world = await startOciWorld();
});

afterAll(async () => {
  await world.fake.stop();
});

beforeEach(() => {
  world.fake.clearFaults();
  world.fake.resetCounts();
  world.fake.setKeyVersionState(world.vaultKey.keyVersionId, "ENABLED");
  endpointsAskedFor.length = 0;
});

describe("VaultKeySource", () => {
  it("returns a key version's public key and state from Vault", async () => {
    const { keyId, keyVersionId, publicKeyPem } = world.vaultKey;

    const info = await newSource().getKeyVersion(keyId, keyVersionId, soon());

    expect(info).toEqual({ keyId, keyVersionId, publicKeyPem, lifecycleState: "ENABLED" });
    expect(endpointsAskedFor).toEqual([keyId]);
  });

  it("reports a disabled key version as disabled", async () => {
    world.fake.setKeyVersionState(world.vaultKey.keyVersionId, "DISABLED");
    const { keyId, keyVersionId } = world.vaultKey;

    const info = await newSource().getKeyVersion(keyId, keyVersionId, soon());

    expect(info.lifecycleState).toBe("DISABLED");
  });

  it("serves a second lookup from its cache without a request", async () => {
    const source = newSource();
    const { keyId, keyVersionId } = world.vaultKey;

    const first = await source.getKeyVersion(keyId, keyVersionId, soon());
    const second = await source.getKeyVersion(keyId, keyVersionId, soon());

    expect(second).toEqual(first);
    expect(lookups()).toBe(1);
  });

  it("asks Vault again once a cached answer has outlived its lifetime", async () => {
    let now = 1_000_000;
    const source = newSource({ cacheTtlMs: 60_000, now: () => now });
    const { keyId, keyVersionId } = world.vaultKey;

    await source.getKeyVersion(keyId, keyVersionId, soon());
    now += 59_999;
    await source.getKeyVersion(keyId, keyVersionId, soon());
    now += 2;
    await source.getKeyVersion(keyId, keyVersionId, soon());

    expect(lookups()).toBe(2);
  });

  it("forgets the oldest key version when the cache is full", async () => {
    const other = createVaultKey();
    world.fake.addKeyVersion({ ...other, compartmentId: world.tenancyId });
    const source = newSource({ maxEntries: 1 });
    const mine = world.vaultKey;

    await source.getKeyVersion(mine.keyId, mine.keyVersionId, soon());
    await source.getKeyVersion(other.keyId, other.keyVersionId, soon());
    await source.getKeyVersion(mine.keyId, mine.keyVersionId, soon());

    expect(lookups()).toBe(3);
  });

  it("makes one request for concurrent lookups of the same key version", async () => {
    world.fake.injectFault({ kind: "delay", ms: 200, route: "getKeyVersion" });
    const source = newSource();
    const { keyId, keyVersionId } = world.vaultKey;

    const answers = await Promise.all(
      Array.from({ length: 8 }, () => source.getKeyVersion(keyId, keyVersionId, soon())),
    );

    expect(new Set(answers.map((a) => a.publicKeyPem)).size).toBe(1);
    expect(lookups()).toBe(1);
  });

  it("lets one caller give up without failing the others sharing its request", async () => {
    world.fake.injectFault({ kind: "delay", ms: 300, route: "getKeyVersion" });
    const source = newSource();
    const { keyId, keyVersionId } = world.vaultKey;
    const impatient = new AbortController();

    const first = source.getKeyVersion(keyId, keyVersionId, impatient.signal);
    const second = source.getKeyVersion(keyId, keyVersionId, soon());
    impatient.abort();

    expect((await failure(first)).code).toBe("oci-deadline");
    expect((await second).lifecycleState).toBe("ENABLED");
    expect(lookups()).toBe(1);
  });

  it("cancels the request when every caller has given up", async () => {
    world.fake.injectFault({ kind: "hang", route: "getKeyVersion" });
    const source = newSource();
    const { keyId, keyVersionId } = world.vaultKey;
    const callers = [new AbortController(), new AbortController()];

    const pending = callers.map((c) => source.getKeyVersion(keyId, keyVersionId, c.signal));
    await vi.waitFor(() => expect(world.fake.pendingRequests).toBe(1));
    for (const caller of callers) caller.abort();

    for (const p of pending) expect((await failure(p)).code).toBe("oci-deadline");
    await vi.waitFor(() => expect(world.fake.pendingRequests).toBe(0));
  }, 10_000);

  it("gives up at the deadline when Vault hangs", async () => {
    world.fake.injectFault({ kind: "hang", route: "getKeyVersion" });
    const { keyId, keyVersionId } = world.vaultKey;

    const error = await failure(
      newSource().getKeyVersion(keyId, keyVersionId, AbortSignal.timeout(1000)),
    );

    expect(error.code).toBe("oci-deadline");
  }, 10_000);

  it("reports an unknown key version as not found, remembered for a minute only", async () => {
    let clock = 1_000_000;
    const source = newSource({ now: () => clock });
    const unknown = createVaultKey();

    for (const advance of [0, 59_000, 2_000]) {
      clock += advance;
      const lookup = source.getKeyVersion(unknown.keyId, unknown.keyVersionId, soon());
      expect(await failure(lookup)).toMatchObject({
        code: "oci-not-found",
        serviceCode: "NotAuthorizedOrNotFound",
      });
    }
    // Asked at 0 s, answered from memory at 59 s, asked again at 61 s.
    expect(lookups()).toBe(2);
  });

  it("does not take one key's version for another key's", async () => {
    const other = createVaultKey();

    const error = await failure(
      newSource().getKeyVersion(other.keyId, world.vaultKey.keyVersionId, soon()),
    );

    expect(error.code).toBe("oci-not-found");
  });

  it("reports throttling as throttled, without retrying", async () => {
    world.fake.injectFault({ kind: "status", status: 429, route: "getKeyVersion", times: 5 });
    const { keyId, keyVersionId } = world.vaultKey;

    const error = await failure(newSource().getKeyVersion(keyId, keyVersionId, soon()));

    expect(error).toMatchObject({ code: "oci-throttled", status: 429, api: "vault" });
    expect(lookups()).toBe(1);
  });
});
