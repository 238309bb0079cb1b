#!/usr/bin/env node
// Checks the npm package as a user receives it: packs the repository (`npm pack`, whose
// prepack does a clean library build), installs the tarball into a fresh consumer project in
// a temporary directory outside the repository, and runs what a user would run there.
//
// usage: node scripts/pack-check.mjs [--keep] [--contents-only]     (npm run pack:check)
//   --keep            leave the temporary directory in place (it is also kept when a check fails)
//   --contents-only   stop after the tarball contents check (half a minute instead of three)
//
// npm pack runs prepack, which removes and rebuilds only the library's folders of dist/ (so no
// stale module ships); the tests, benches and examples built there are left alone.
//
// Checks, each printed as PASS/FAIL (or SKIP) with its time:
//   pack                  npm pack succeeds and names one tarball
//   tarball contents      dist/index.js and dist/index.d.ts are in; no tests, benches, examples,
//                         TypeScript sources or source maps; every relative import of every
//                         shipped module resolves inside the tarball; the exports targets exist
//   consumer install      npm install of the tarball (production dependencies, plus typescript
//                         and @types/node as the consumer's dev dependencies) with the README's
//                         allowScripts and --strict-allow-scripts, so a dependency with an install
//                         script the README does not list fails the install (npm 11 runs such
//                         scripts with a warning today; a later npm will skip them)
//   native addons built   koffi loads, @discordjs/opus encodes and decodes a frame, naudiodon's
//                         addon was compiled (it is optional: SKIP off CI when it did not build)
//   ESM consumer call     scripts/pack-consumer/call.mjs: two engines on 127.0.0.1 through the
//                         installed package, A calls B, B answers, a 1 kHz tone A -> B, hang-up
//   TypeScript consumer   scripts/pack-consumer/typed.ts under tsc --noEmit (NodeNext)
//   CommonJS consumer     require('linescape') (where Node can require an ES module)
//   degraded: LINESCAPE_DISABLE_NATIVE=all    the same call, libspeexdsp and naudiodon off
//   degraded: --omit=optional                 the optional dependencies removed from the install
//                         (naudiodon, and koffi's binary, so libspeexdsp is unreachable too),
//                         the same call
//
// Exit code: 0 when every check passed (or was skipped), 1 otherwise.
// Under CI=true a missing native library (libspeexdsp1, or naudiodon that did not build) fails;
// elsewhere it is skipped with the apt-get command that installs it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONSUMER_SRC = path.join(ROOT, 'scripts', 'pack-consumer');
const CI = process.env.CI === 'true';
const KEEP = process.argv.includes('--keep');
const CONTENTS_ONLY = process.argv.includes('--contents-only');
const repoPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

// The dependencies with install scripts a consumer must allow: what the README tells users.
const CONSUMER_ALLOW_SCRIPTS = { koffi: true, '@discordjs/opus': true, naudiodon: true, 'segfault-handler': true };
// What may be shipped: the compiled library and the documents.
const SHIPPED = [/^package\.json$/, /^README\.md$/, /^LICENSE$/, /^docs\/[^/]+\.md$/, /^dist\/index\.(js|d\.ts)$/, /^dist\/(engine|lines|mixer|media|sip|ffi)\/.+\.(js|d\.ts)$/];
const APT_HINT = { speexdsp: 'apt-get install -y libspeexdsp1', naudiodon: 'apt-get install -y libasound2 build-essential python3' };

const results = [];
let work;

function fmtMs(ms) {
  return ms >= 10000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Runs a command; its output is shown indented, and returned. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts, env: { ...process.env, ...opts.env } });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (opts.quiet !== true) {
    for (const line of out.split('\n')) if (line.trim() !== '') console.log(`    | ${line}`);
  }
  const streams = { stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (r.error) return { ok: false, status: -1, ...streams, out: `${out}\n${r.error.message}` };
  return { ok: r.status === 0, status: r.status, ...streams, out };
}

/**
 * Runs one check. `fn` returns true (pass), a string (fail, with the reason), or
 * `{ skip: reason }`; a throw is a failure too.
 */
function check(name, fn) {
  console.log(`\n--- ${name}`);
  const t0 = performance.now();
  let verdict;
  let detail = '';
  try {
    const r = fn();
    if (r === true) verdict = 'PASS';
    else if (r && typeof r === 'object' && 'skip' in r) {
      verdict = 'SKIP';
      detail = r.skip;
    } else {
      verdict = 'FAIL';
      detail = typeof r === 'string' ? r : 'failed';
    }
  } catch (err) {
    verdict = 'FAIL';
    detail = err instanceof Error ? err.message : String(err);
  }
  const ms = performance.now() - t0;
  results.push({ name, verdict, ms, detail });
  console.log(`${verdict} ${name} (${fmtMs(ms)})${detail ? `: ${detail}` : ''}`);
  return verdict !== 'FAIL';
}

/** Relative module specifiers of a JS or .d.ts file (static and dynamic imports, re-exports). */
function relativeImports(text) {
  const found = new Set();
  for (const re of [/\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g, /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g, /^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm]) {
    for (const m of text.matchAll(re)) found.add(m[1]);
  }
  return [...found];
}

let tarball;
let files = [];
const consumer = () => path.join(work, 'consumer');

function packStep() {
  const dest = path.join(work, 'pack');
  fs.mkdirSync(dest);
  // npm writes the JSON to stdout, prepack's banner and build output to stderr
  const r = run('npm', ['pack', '--json', '--pack-destination', dest], { cwd: ROOT, quiet: true });
  for (const line of r.stderr.split('\n')) if (line.trim() !== '') console.log(`    | ${line}`);
  if (!r.ok) return `npm pack exited ${r.status}${r.stdout.trim() ? `:\n${r.stdout}` : ''}`;
  const json = JSON.parse(r.stdout);
  if (json.length !== 1) return `npm pack made ${json.length} tarballs`;
  tarball = path.join(dest, json[0].filename);
  files = json[0].files.map((f) => f.path);
  console.log(`    ${json[0].filename}: ${json[0].entryCount} files, ${(json[0].size / 1024).toFixed(1)} KiB packed, ${(json[0].unpackedSize / 1024).toFixed(1)} KiB unpacked`);
  return fs.existsSync(tarball) ? true : `no tarball at ${tarball}`;
}

function contentsStep() {
  const problems = [];
  for (const must of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) {
    if (!files.includes(must)) problems.push(`missing ${must}`);
  }
  for (const f of files) {
    if (/(^|\/)(test|bench|examples)\//.test(f)) problems.push(`test/bench/example file ${f}`);
    else if (/\.map$/.test(f)) problems.push(`source map ${f} (its sources are not shipped)`);
    else if (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)) problems.push(`TypeScript source ${f}`);
    else if (!SHIPPED.some((re) => re.test(f))) problems.push(`unexpected file ${f}`);
  }
  // every relative import must resolve inside the package
  const unpacked = path.join(work, 'unpacked');
  fs.mkdirSync(unpacked);
  const tar = run('tar', ['-xzf', tarball, '-C', unpacked], { quiet: true });
  if (!tar.ok) return `tar -xzf failed: ${tar.out}`;
  const pkgDir = path.join(unpacked, 'package');
  let modules = 0;
  for (const f of files.filter((x) => /\.(js|d\.ts)$/.test(x))) {
    modules++;
    const text = fs.readFileSync(path.join(pkgDir, f), 'utf8');
    for (const spec of relativeImports(text)) {
      let target = path.join(path.dirname(path.join(pkgDir, f)), spec);
      if (f.endsWith('.d.ts')) target = target.replace(/\.js$/, '.d.ts');
      if (!fs.existsSync(target)) problems.push(`${f} imports ${spec}, which is not in the package`);
    }
  }
  const shippedPkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const targets = [];
  const collect = (v) => (typeof v === 'string' ? targets.push(v) : v && typeof v === 'object' && Object.values(v).forEach(collect));
  collect(shippedPkg.exports);
  targets.push(shippedPkg.main, shippedPkg.types);
  for (const t of targets) if (!fs.existsSync(path.join(pkgDir, t))) problems.push(`exports/main/types target ${t} is not in the package`);
  console.log(`    ${files.length} files; ${modules} modules' relative imports and ${targets.length} exports/main/types targets checked`);
  if (problems.length > 20) problems.splice(20, problems.length, `and ${problems.length - 20} more`);
  return problems.length === 0 ? true : problems.join('; ');
}

function installStep() {
  fs.mkdirSync(consumer());
  const pkg = {
    name: 'linescape-pack-consumer',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { linescape: `file:${tarball}` },
    devDependencies: { typescript: repoPkg.devDependencies.typescript, '@types/node': repoPkg.devDependencies['@types/node'] },
    allowScripts: CONSUMER_ALLOW_SCRIPTS,
  };
  fs.writeFileSync(path.join(consumer(), 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const f of fs.readdirSync(CONSUMER_SRC)) fs.copyFileSync(path.join(CONSUMER_SRC, f), path.join(consumer(), f));
  // the addons compile with every core (node-gyp reads JOBS)
  const r = run('npm', ['install', '--no-audit', '--no-fund', '--strict-allow-scripts'], { cwd: consumer(), env: { JOBS: process.env.JOBS ?? String(os.availableParallelism()) } });
  if (!r.ok) return `npm install exited ${r.status}`;
  // --strict-allow-scripts stops only explicit install scripts; an implicit `node-gyp rebuild`
  // (a package with a binding.gyp) is merely warned about, so the warning fails here
  if (/not yet covered by allowScripts/.test(r.out)) return 'a dependency runs install scripts the README does not list in allowScripts';
  const installed = path.join(consumer(), 'node_modules', 'linescape', 'package.json');
  if (!fs.existsSync(installed)) return 'node_modules/linescape is missing after the install';
  const v = JSON.parse(fs.readFileSync(installed, 'utf8')).version;
  return v === repoPkg.version ? true : `installed linescape ${v}, packed ${repoPkg.version}`;
}

function nativeStep() {
  const probe = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.resolve('linescape'));
    const koffi = require('koffi');
    if (typeof koffi.load !== 'function') throw new Error('koffi has no load()');
    console.log('koffi ' + koffi.version + ' loaded');
    const { OpusEncoder } = require('@discordjs/opus');
    const enc = new OpusEncoder(48000, 1);
    const pcm = Buffer.alloc(960 * 2);
    for (let i = 0; i < 960; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 1000 * i / 48000)), i * 2);
    const packet = enc.encode(pcm);
    const back = enc.decode(packet);
    if (packet.length === 0 || back.length !== pcm.length) throw new Error('opus round trip gave ' + packet.length + ' / ' + back.length + ' bytes');
    console.log('@discordjs/opus: 20 ms at 48 kHz -> ' + packet.length + ' bytes -> ' + back.length / 2 + ' samples');
  `;
  const r = run(process.execPath, ['--input-type=module', '-e', probe], { cwd: consumer() });
  if (!r.ok) return 'koffi or @discordjs/opus did not load in the consumer';
  // naudiodon is optional: its addon is only present when its build succeeded
  const addon = path.join(consumer(), 'node_modules', 'naudiodon', 'build', 'Release', 'naudiodon.node');
  if (!fs.existsSync(addon)) {
    const why = `naudiodon's addon was not built (${addon})`;
    return CI ? why : { skip: `${why}; ${APT_HINT.naudiodon}, then npm rebuild naudiodon` };
  }
  console.log(`    naudiodon addon built: ${path.relative(work, addon)}`);
  return true;
}

function requireStep() {
  // exports' "default" condition lets CommonJS load the ES module where Node can (require(esm))
  if (process.features.require_module !== true) return { skip: `this Node (${process.version}) cannot require() an ES module` };
  const probe = "const l = require('linescape'); if (typeof l.VoipMediaEngine !== 'function') throw new Error('no VoipMediaEngine'); console.log('require(linescape): ' + Object.keys(l).length + ' exports')";
  const r = run(process.execPath, ['--no-warnings', '-e', probe], { cwd: consumer() });
  return r.ok ? true : `require('linescape') failed`;
}

/** Runs the consumer call with the given expectations of the native pieces. */
function callStep(env) {
  const r = run(process.execPath, ['call.mjs'], { cwd: consumer(), env });
  if (r.ok) return true;
  const missing = [];
  if (env.EXPECT_SPEEXDSP === 'present' && /FAIL libspeexdsp present.*SipNativeLibraryMissing/.test(r.out)) missing.push('speexdsp');
  if (env.EXPECT_NAUDIODON === 'present' && /FAIL naudiodon present.*SipNativeLibraryMissing/.test(r.out)) missing.push('naudiodon');
  const otherFailures = r.out.split('\n').filter((l) => /^\s*FAIL /.test(l)).length - missing.length;
  if (!CI && missing.length > 0 && otherFailures === 0 && !/consumer call failed/.test(r.out)) {
    return { skip: `native library missing on this machine: ${missing.map((m) => APT_HINT[m]).join('; ')}` };
  }
  return `call.mjs exited ${r.status}`;
}

function typeStep() {
  const tsc = path.join(consumer(), 'node_modules', 'typescript', 'bin', 'tsc');
  const v = run(process.execPath, [tsc, '--version'], { cwd: consumer() });
  if (!v.ok) return 'the consumer has no typescript';
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer() });
  return r.ok ? true : `tsc --noEmit exited ${r.status}`;
}

function omitOptionalStep() {
  // The same consumer, reinstalled without optional dependencies: npm removes naudiodon, and
  // also koffi's prebuilt binary (koffi ships it as per-platform optional packages, e.g.
  // @koromix/koffi-linux-x64), so libspeexdsp cannot be reached either. Both must degrade.
  const r = run('npm', ['install', '--no-audit', '--no-fund', '--strict-allow-scripts', '--omit=optional'], { cwd: consumer() });
  if (!r.ok) return `npm install --omit=optional exited ${r.status}`;
  const nm = path.join(consumer(), 'node_modules');
  if (fs.existsSync(path.join(nm, 'naudiodon'))) return 'naudiodon is still installed';
  const koffiBinaries = fs.existsSync(path.join(nm, '@koromix')) ? fs.readdirSync(path.join(nm, '@koromix')) : [];
  if (koffiBinaries.length > 0) return `koffi's binary packages are still installed: ${koffiBinaries.join(', ')}`;
  console.log("    naudiodon and koffi's binary package are not installed");
  return callStep({ LINESCAPE_DISABLE_NATIVE: '', EXPECT_SPEEXDSP: 'absent', EXPECT_NAUDIODON: 'absent', EXPECT_CODEC: 'opus' });
}

function main() {
  const started = performance.now();
  work = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'linescape-pack-'));
  if (!path.relative(ROOT, work).startsWith('..')) {
    console.log(`FAIL the temporary directory ${work} is inside the repository`);
    return 1;
  }
  console.log(`pack-check: ${repoPkg.name}@${repoPkg.version}, node ${process.version}, npm ${run('npm', ['--version'], { quiet: true }).stdout.trim()}, work dir ${work}`);
  const full = { LINESCAPE_DISABLE_NATIVE: '', EXPECT_SPEEXDSP: 'present', EXPECT_NAUDIODON: 'present', EXPECT_CODEC: 'opus' };
  if (check('pack', packStep) && check('tarball contents', contentsStep) && !CONTENTS_ONLY && check('consumer install', installStep)) {
    check('native addons built', nativeStep);
    const naudiodonBuilt = fs.existsSync(path.join(consumer(), 'node_modules', 'naudiodon', 'build', 'Release', 'naudiodon.node'));
    check('ESM consumer call', () => callStep({ ...full, EXPECT_NAUDIODON: naudiodonBuilt || CI ? 'present' : 'absent' }));
    check('TypeScript consumer (tsc --noEmit)', typeStep);
    check('CommonJS consumer (require)', requireStep);
    check('degraded: LINESCAPE_DISABLE_NATIVE=all', () =>
      callStep({ LINESCAPE_DISABLE_NATIVE: 'all', EXPECT_SPEEXDSP: 'absent', EXPECT_NAUDIODON: 'absent', EXPECT_CODEC: 'opus' }),
    );
    check('degraded: --omit=optional (no naudiodon, no koffi binary)', omitOptionalStep);
  }
  const failed = results.filter((r) => r.verdict === 'FAIL');
  console.log('\n=== pack-check summary');
  for (const r of results) console.log(`${r.verdict.padEnd(4)} ${r.name.padEnd(58)} ${fmtMs(r.ms).padStart(6)}`);
  console.log(`${failed.length === 0 ? 'PASS' : 'FAIL'}: ${results.length - failed.length} of ${results.length} checks passed or skipped, ${failed.length} failed, in ${fmtMs(performance.now() - started)}`);
  if (failed.length > 0 || KEEP) console.log(`kept ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = main();
