// The unpacked tarball (its package/ directory): what package.json names is there, nothing from
// the repository's sources or tests ships, and every source map carries the sources it names
// (the maps say ../../src/*.ts, which the tarball does not contain). One line per check.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.argv[2];
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const files = [];
(function walk(d) {
  for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : files.push(relative(dir, join(d, e.name)));
})(dir);

let failed = false;
function check(name, problems) {
  if (problems.length === 0) return console.log(`ok tarball: ${name}`);
  failed = true;
  console.log(`FAIL tarball: ${name}: ${problems.slice(0, 10).join(', ')}${problems.length > 10 ? ` (and ${problems.length - 10} more)` : ''}`);
}

const named = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
for (const target of Object.values(pkg.exports)) named.push(...(typeof target === 'string' ? [target] : Object.values(target)));
check(`the ${named.length} files package.json names exist`, named.filter((f) => !existsSync(join(dir, f))));
const bin = Object.values(pkg.bin)[0];
check('the bin starts with #!/usr/bin/env node', readFileSync(join(dir, bin), 'utf8').startsWith('#!/usr/bin/env node\n') ? [] : [bin]);
check('only dist/, README.md, package.json and LICENSE ship', files.filter((f) => !/^(dist\/|README\.md$|package\.json$|LICENSE)/.test(f)));
check('no test or fixture code in dist/', files.filter((f) => /(^|\/)(test|native-fixtures|examples|bench)\/|\.test\./.test(f)));
// The web pages' browser scripts are assets served as they are, not modules anyone imports.
const js = files.filter((f) => f.endsWith('.js') && !f.startsWith('dist/verifier/web/assets/'));
check(`each of the ${js.length} .js modules has its .d.ts and .js.map`, js.filter((f) => !files.includes(f.replace(/\.js$/, '.d.ts')) || !files.includes(`${f}.map`)));
const unusable = [];
for (const f of files.filter((f) => f.endsWith('.js.map'))) {
  const map = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const content = map.sourcesContent ?? [];
  if (map.sources.length === 0 || map.sources.some((_, i) => typeof content[i] !== 'string' || content[i].length === 0)) unusable.push(f);
}
check('every source map embeds the sources it names (sourcesContent)', unusable);
process.exitCode = failed ? 1 : 0;
