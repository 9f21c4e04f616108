// PKCS#11 strings are fixed-width and blank-padded; versions are {major, minor}.
export function trimPadded(value: string): string {
  return value.replace(/[\s\0]+$/u, '');
}

export function versionString(v: { major: number; minor: number }): string {
  return `${v.major}.${v.minor}`;
}
