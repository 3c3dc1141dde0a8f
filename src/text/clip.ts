/** Shortens text to at most `maxLength` characters, marking a cut with "...". */
export function clip(text: string, maxLength: number): string {
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}
