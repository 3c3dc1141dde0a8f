/** A minimal POSIX ustar writer: regular files and directories, enough for an image layer. */

/** One entry of a layer: a directory (path ends with `/`) or a regular file. */
export interface TarEntry {
  /** Relative path, e.g. `etc/` or `etc/hello.txt`; at most 100 bytes. */
  path: string;
  /** File content; omitted for directories. */
  content?: Buffer;
  /** Permission bits (default 0o644 for files, 0o755 for directories). */
  mode?: number;
}

const BLOCK = 512;
// A fixed timestamp keeps layers, and so digests, identical for identical content.
const MTIME = Date.UTC(2024, 0, 1) / 1000;

/** The uncompressed tar archive holding `entries`, in order. */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const isDirectory = entry.path.endsWith("/");
    const content = isDirectory ? Buffer.alloc(0) : (entry.content ?? Buffer.alloc(0));
    parts.push(header(entry.path, content.length, isDirectory, entry.mode));
    parts.push(content, Buffer.alloc(padding(content.length)));
  }
  // Two zero blocks mark the end of the archive.
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(path: string, size: number, isDirectory: boolean, mode?: number): Buffer {
  if (Buffer.byteLength(path) > 100 || path.startsWith("/")) {
    throw new Error(`tar path must be relative and at most 100 bytes: ${path}`);
  }
  const block = Buffer.alloc(BLOCK);
  block.write(path, 0, 100, "utf8");
  writeOctal(block, 100, 8, mode ?? (isDirectory ? 0o755 : 0o644));
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, MTIME);
  block.write(isDirectory ? "5" : "0", 156, 1, "ascii");
  block.write("ustar\u000000", 257, 8, "ascii");
  block.write("root", 265, 32, "ascii");
  block.write("root", 297, 32, "ascii");

  // The checksum is computed with its own field read as eight spaces.
  block.fill(" ", 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  return block;
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, "0")}\u0000`, offset, width, "ascii");
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
