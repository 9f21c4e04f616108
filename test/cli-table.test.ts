// The CLI's listings for people: aligned columns, unquoted values, no index column.
import { describe, expect, it } from 'vitest';
import { formatTable } from '../src/cli/table.js';

describe('formatTable', () => {
  it('aligns columns under a header, prints values unquoted, and says (none) for nothing', () => {
    const text = formatTable([
      { name: 'door', key: 'tgk_abc', scopes: ['admin', 'audit'] },
      { name: 'kiosk-17', key: 'tgk_defghi', scopes: [] },
    ]);
    expect(text.split('\n')).toEqual(['name      key         scopes', 'door      tgk_abc     admin, audit', 'kiosk-17  tgk_defghi']);
    expect(text).not.toContain("'");
    expect(formatTable([])).toBe('(none)');
    expect(formatTable([{ a: undefined, b: null, c: new Date(0) }])).toBe('a  b  c\n      1970-01-01T00:00:00.000Z');
  });
});
