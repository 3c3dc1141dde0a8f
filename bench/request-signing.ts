import { createVerify, generateKeyPairSync } from "node:crypto";

import * as common from "oci-common";

import { OciRequestSigner, PrivateKeyCache, type SignableRequest } from "../src/oci/request-signer";
import { ms, summarize, type Summary, timed, times } from "./stats";

/**
 * What signing one OCI request costs: the SDK's `DefaultRequestSigner` against pullgate's
 * `OciRequestSigner`, the same credentials and the same requests in the same run. Requests are
 * GETs like the ones a pull decision makes (a signature listing); signing is CPU work on the
 * event loop, so the time per request is also time no other CRI call is served.
 */

/** Timings of both signers. */
export interface RequestSigning {
  /** Requests signed by each signer (after the discarded warm-up). */
  requests: number;
  sdk: Summary;
  ours: Summary;
  /** Median SDK / median ours. */
  ratio: number;
  /** CPU time per request, user plus system, in milliseconds. */
  sdkCpuMs: number;
  oursCpuMs: number;
}

const WARM_UP = 20;

type Sign = (request: SignableRequest) => Promise<void>;

const LISTING =
  "https://artifacts.eu-frankfurt-1.oci.oraclecloud.com/20160918/container/imageSignatures";

function listingRequest(i: number): SignableRequest {
  const query = `compartmentId=ocid1.tenancy.oc1..aaaa&imageDigest=sha256%3A${i}&limit=100`;
  return { method: "GET", uri: `${LISTING}?${query}`, headers: new Headers() };
}

/**
 * Signs `count` requests with each signer, alternating request by request so that both see
 * the same load on the machine; per-request wall times and CPU time per request of each.
 */
async function measureAlternately(
  count: number,
  signers: readonly [Sign, Sign],
): Promise<[{ summary: Summary; cpuMs: number }, { summary: Summary; cpuMs: number }]> {
  for (let i = 0; i < WARM_UP; i++) for (const sign of signers) await sign(listingRequest(i));
  const samples: [number[], number[]] = [[], []];
  const cpuMicros = [0, 0];
  for (let i = 0; i < count; i++) {
    for (const [which, sign] of signers.entries()) {
      const request = listingRequest(i);
      const cpuBefore = process.cpuUsage();
      samples[which === 0 ? 0 : 1].push(await timed(() => sign(request)));
      const cpu = process.cpuUsage(cpuBefore);
      cpuMicros[which] = (cpuMicros[which] ?? 0) + cpu.user + cpu.system;
    }
  }
  const result = (which: 0 | 1) => ({
    summary: summarize(samples[which]),
    cpuMs: (cpuMicros[which] ?? 0) / 1000 / count,
  });
  return [result(0), result(1)];
}

/** Fails unless `request` carries a signature that the public key verifies. */
function assertVerifies(request: SignableRequest, publicKeyPem: string): void {
  const authorization = request.headers.get("authorization") ?? "";
  const names = /headers="([^"]*)"/.exec(authorization)?.[1]?.split(" ") ?? [];
  const signature = /signature="([^"]*)"/.exec(authorization)?.[1] ?? "";
  const url = new URL(request.uri);
  const text = names
    .map((name) =>
      name === "(request-target)"
        ? `${name}: ${request.method.toLowerCase()} ${url.pathname}${url.search}`
        : `${name.toLowerCase()}: ${request.headers.get(name) ?? ""}`,
    )
    .join("\n");
  if (!createVerify("RSA-SHA256").update(text).verify(publicKeyPem, signature, "base64")) {
    throw new Error("a benchmarked signer produced a signature that does not verify");
  }
}

/** Measures both signers over `requests` requests each (default 200). */
export async function measureRequestSigning(requests = 200): Promise<RequestSigning> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const auth = new common.SimpleAuthenticationDetailsProvider(
    "ocid1.tenancy.oc1..aaaa",
    "ocid1.user.oc1..aaaa",
    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
    privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    null,
  );
  const sdkSigner = new common.DefaultRequestSigner(auth);
  const ourSigner = new OciRequestSigner(auth, new PrivateKeyCache());
  const sdkSign: Sign = async (request) => {
    await sdkSigner.signHttpRequest({ ...request, method: "GET" });
  };
  const ourSign: Sign = async (request) => {
    const outcome = await ourSigner.sign(request);
    if (!outcome.ok) throw new Error(`signing failed: ${outcome.error}`);
  };

  // Neither number means anything if either signer produced something OCI would refuse.
  for (const sign of [sdkSign, ourSign]) {
    const probe = listingRequest(0);
    await sign(probe);
    assertVerifies(probe, publicKeyPem);
  }

  const [sdk, ours] = await measureAlternately(requests, [sdkSign, ourSign]);
  return {
    requests,
    sdk: sdk.summary,
    ours: ours.summary,
    ratio: sdk.summary.median / ours.summary.median,
    sdkCpuMs: sdk.cpuMs,
    oursCpuMs: ours.cpuMs,
  };
}

/** The table lines for a result. */
export function describeRequestSigning(result: RequestSigning): string[] {
  const row = (name: string, summary: Summary, cpuMs: number): string =>
    `  ${name.padEnd(28)} ${ms(summary.median).padStart(10)} ${ms(summary.p90).padStart(10)}` +
    ` ${ms(cpuMs).padStart(10)}`;
  return [
    `OCI request signing, ${result.requests} GET requests per signer`,
    `  ${"signer".padEnd(28)} ${"median".padStart(10)} ${"p90".padStart(10)} ` +
      `${"cpu/req".padStart(10)}`,
    row("SDK DefaultRequestSigner", result.sdk, result.sdkCpuMs),
    row("pullgate OciRequestSigner", result.ours, result.oursCpuMs),
    `  SDK / pullgate, medians: ${times(result.ratio)}`,
  ];
}

/** Measures, prints the table and returns the numbers (for bench/run.ts). */
export async function run(requests = 200): Promise<RequestSigning> {
  const result = await measureRequestSigning(requests);
  for (const line of describeRequestSigning(result)) console.log(line);
  return result;
}

if (require.main === module) {
  const requests = Number(process.argv[2] ?? "200");
  run(Number.isInteger(requests) && requests > 0 ? requests : 200).catch((error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exitCode = 1;
  });
}
