/** The repository path of an image reference: the part below the registry domain. */

/** The longest repository path the runtime accepts, counted after normalisation. */
export const MAX_REPOSITORY_PATH_LENGTH = 255;

// Lower-case letters and digits, joined by one ".", one or two "_", or any run of "-".
// Separators are never alphanumeric, so each string has one parse and matching is linear.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** Why a repository path is not acceptable, or undefined when it is. */
export function repositoryPathError(path: string): string | undefined {
  if (path.length > MAX_REPOSITORY_PATH_LENGTH) {
    return `the repository path is longer than ${MAX_REPOSITORY_PATH_LENGTH} characters`;
  }
  if (path.split("/").every(isPathComponent)) return undefined;

  // The runtime says so specifically when only letter case is wrong; so do we.
  const lowered = path.toLowerCase();
  if (lowered !== path && lowered.split("/").every(isPathComponent)) {
    return "the repository path must be lower case";
  }
  return "the repository path must be lower-case letters and digits in '/'-separated " +
    "components, joined inside a component by '.', '_', '__' or dashes";
}

function isPathComponent(component: string): boolean {
  return PATH_COMPONENT.test(component);
}
