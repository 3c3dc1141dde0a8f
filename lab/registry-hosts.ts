/**
 * containerd's `certs.d` directory for the lab: every OCIR host name is served by the local
 * registry, and only by it.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** OCIR host names the lab maps onto the local registry unless told otherwise. */
export const DEFAULT_OCIR_HOSTS: readonly string[] = [
  "phx.ocir.io",
  "iad.ocir.io",
  "fra.ocir.io",
  "lhr.ocir.io",
  "us-phoenix-1.ocir.io",
  "us-ashburn-1.ocir.io",
  "eu-frankfurt-1.ocir.io",
  "ocir.us-phoenix-1.oci.oraclecloud.com",
  "ocir.us-ashburn-1.oci.oraclecloud.com",
];

/**
 * The `hosts.toml` that sends every pull for a host to `registryHost` (`127.0.0.1:PORT`).
 *
 * `server` is what keeps containerd away from the real host: containerd always tries the
 * `server` last, and when it is left out the server defaults to `https://<host>`, so a
 * mirror-only file (like the CRI plugin's older `registry.mirrors` setting, which appends the
 * real host to every mirror list) falls back to the real registry whenever the mirror fails.
 */
export function hostsToml(registryHost: string): string {
  const url = `http://${registryHost}`;
  return [
    `server = "${url}"`,
    "",
    `[host."${url}"]`,
    `  capabilities = ["pull", "resolve"]`,
    "",
  ].join("\n");
}

/** Writes `<certsDir>/<host>/hosts.toml` for each host, all pointing at `registryHost`. */
export async function writeRegistryHosts(
  certsDir: string,
  hosts: readonly string[],
  registryHost: string,
): Promise<void> {
  for (const host of hosts) {
    if (!/^[a-z0-9.-]+(:\d+)?$/.test(host)) {
      throw new Error(`not a lower-case registry host name: ${JSON.stringify(host)}`);
    }
    const dir = join(certsDir, host);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "hosts.toml"), hostsToml(registryHost));
  }
}
