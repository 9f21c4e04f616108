// Splitting "password + security token" typed into one field: the token is the last `tokenLength`
// characters, always — deterministic, so the same input never means two things.

export interface SplitCredentials {
  readonly password: string;
  readonly token: string;
}

/** The password and the appended token, or undefined when the input is too short to hold both. */
export function splitAppended(input: string, tokenLength: number): SplitCredentials | undefined {
  // Code points, not UTF-16 units: a password ending in an emoji is not cut in half.
  const chars = Array.from(input);
  if (chars.length <= tokenLength) return undefined;
  return { password: chars.slice(0, -tokenLength).join(''), token: chars.slice(-tokenLength).join('') };
}
