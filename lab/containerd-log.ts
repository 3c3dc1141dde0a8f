/**
 * Reading containerd's debug log for the registry hosts it contacted: the evidence that an
 * OCIR pull was served by the local registry and never sent to the real host.
 */

/** One registry request containerd logged before sending it. */
export interface ContainerdRegistryRequest {
  /** `host:port` the request went to. */
  host: string;
  method: string;
  url: string;
}

// The resolver logs `msg="do request"` with `url=` for every request it sends, manifest
// resolution included, and `msg=resolving host=...` for every host it tries.
const DO_REQUEST = /msg="do request".*request\.method=(\S+).* url="?([^"\s]+)/;
const RESOLVING = /msg=resolving host="?([^"\s]+)/;

/** Every registry request in a containerd debug log, in order. */
export function registryRequestsInLog(log: string): ContainerdRegistryRequest[] {
  const requests: ContainerdRegistryRequest[] = [];
  for (const line of log.split("\n")) {
    const match = DO_REQUEST.exec(line);
    if (match === null) continue;
    const [, method = "", url = ""] = match;
    requests.push({ host: new URL(url).host, method, url });
  }
  return requests;
}

/** Every distinct host containerd tried to resolve an image on or sent a request to. */
export function registryHostsInLog(log: string): string[] {
  const hosts = new Set<string>();
  for (const line of log.split("\n")) {
    const resolving = RESOLVING.exec(line);
    if (resolving?.[1] !== undefined) hosts.add(resolving[1]);
  }
  for (const request of registryRequestsInLog(log)) hosts.add(request.host);
  return [...hosts];
}
