/** The TCP addresses a process listens on, read from /proc (no `ss` needed on CI images). */
import { readdir, readFile, readlink } from "node:fs/promises";

/** `address:port` of every listening TCP socket process `pid` holds, IPv4 and IPv6. */
export async function listeningTcpAddresses(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1] !== undefined) inodes.add(match[1]);
  }
  const addresses: string[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const text = await readFile(`/proc/${pid}/net/${table}`, "utf8");
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      // State 0A is LISTEN.
      if (local === undefined || state !== "0A" || inode === undefined) continue;
      if (inodes.has(inode)) addresses.push(decodeAddress(local));
    }
  }
  return addresses;
}

function decodeAddress(hex: string): string {
  const [address = "", port = "0"] = hex.split(":");
  const portNumber = parseInt(port, 16);
  if (address.length === 8) {
    // IPv4 is stored as one little-endian 32-bit word.
    const bytes = Buffer.from(address, "hex").reverse();
    return `${[...bytes].join(".")}:${portNumber}`;
  }
  // IPv6: four little-endian 32-bit words.
  const words: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const word = Buffer.from(address.slice(i, i + 8), "hex").reverse().toString("hex");
    words.push(word.slice(0, 4), word.slice(4));
  }
  return `[${words.join(":")}]:${portNumber}`;
}
