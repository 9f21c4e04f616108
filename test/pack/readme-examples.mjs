// Writes each ```ts / ```typescript block of the README into a file of its own, for
// check-package.sh to type-check against the packed declarations: the examples users copy are
// the ones compiled. Each block is a module of its own. What the prose around it takes as given
// (`token`, `session`, `pin`, …) is declared in consumer/readme-context.ts and imported, by an
// import added at the end of the block (so its line numbers stay the README's), for each name the
// block does not declare itself. A block that is deliberately partial is marked just before it
// with `<!-- not type-checked: reason -->` and left out.
//
// usage: node test/pack/readme-examples.mjs README.md OUTDIR
//   Writes OUTDIR/readme-L<line>.ts, where <line> is the README line of the opening fence, so an
//   error at readme-L117.ts(3,5) is README.md line 117 + 3. Prints how many it wrote and skipped.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTEXT = join(dirname(fileURLToPath(import.meta.url)), 'consumer', 'readme-context.ts');
const contextNames = [...readFileSync(CONTEXT, 'utf8').matchAll(/^export declare (?:const|function) (\w+)/gmu)].map((m) => m[1]);

const SKIP = /^<!--\s*not type-checked:\s*\S.*-->$/u;
const OPEN = /^```(ts|typescript)\s*$/u;

/** The README's TypeScript blocks: where each opens (1-based line), its code, and whether it is marked. */
function readmeBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (!OPEN.test(lines[i])) {
      // Any other fence is skipped whole, so a ```ts inside it is not taken for a block.
      if (lines[i].startsWith('```')) while (++i < lines.length && lines[i] !== '```');
      continue;
    }
    const start = i;
    let before = start - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const code = [];
    while (++i < lines.length && lines[i] !== '```') code.push(lines[i]);
    if (i >= lines.length) throw new Error(`README line ${start + 1}: the block never closes`);
    blocks.push({ line: start + 1, code: code.join('\n'), skipped: before >= 0 && SKIP.test(lines[before].trim()) });
  }
  return blocks;
}

/** The names a block declares or imports at its top level (`const x`, `await using x`, `{ a, b: c }`, `import { x }`). */
function declaredIn(code) {
  const names = new Set();
  for (const [, one, many] of code.matchAll(/^(?:(?:await\s+)?using|const|let|var|import)\s+(?:(\w+)|\{([^}]*)\})/gmu)) {
    if (one) names.add(one);
    for (const part of (many ?? '').split(',')) {
      const name = part.split(':').at(-1).replace(/^\s*type\s+/u, '').split(/\s+as\s+/u).at(-1).trim();
      if (name) names.add(name);
    }
  }
  return names;
}

const [readme, out] = process.argv.slice(2);
if (!readme || !out) {
  console.error('usage: node test/pack/readme-examples.mjs README.md OUTDIR');
  process.exit(2);
}
const blocks = readmeBlocks(readFileSync(readme, 'utf8'));
const checked = blocks.filter((b) => !b.skipped);
if (checked.length === 0) throw new Error(`${readme} has no TypeScript block to check`);
for (const { line, code } of checked) {
  const given = contextNames.filter((name) => !declaredIn(code).has(name));
  const imports = given.length > 0 ? `import { ${given.join(', ')} } from './readme-context.js';` : 'export {};';
  writeFileSync(join(out, `readme-L${line}.ts`), `${code}\n${imports}\n`);
}
console.log(`${checked.length} blocks, ${blocks.length - checked.length} marked not type-checked`);
