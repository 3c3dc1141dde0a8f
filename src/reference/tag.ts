/** Image tags as the reference grammar defines them. */

// A word character first (so a tag never starts with "." or "-"), at most 128 in all.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Whether a written tag is valid; tags, unlike repository paths, may use upper case. */
export function isTag(tag: string): boolean {
  return TAG.test(tag);
}
