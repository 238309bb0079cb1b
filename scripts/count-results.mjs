#!/usr/bin/env node
// Counts test results in ava's TAP output (`ava --tap`) and prints, as its LAST line,
// exactly "N passed, N failed" (", N skipped" appended when N > 0).
//
// usage: node scripts/count-results.mjs TAP_FILE [--ava-exit CODE]
//        node scripts/count-results.mjs --self-test
//
// Only test lines at column 0 count (YAML blocks and "#" comments are indented or prefixed):
//   "ok N - title"             passed
//   "ok N - title # SKIP"      skipped
//   "not ok N - title # TODO"  todo: counted with the skipped (ava does not fail the run for it)
//   "not ok N - title"         failed; ava also writes failed hooks ("› before hook"), uncaught
//                              exceptions, unhandled rejections, workers that crashed, timeouts
//                              and files without tests as "not ok", and all of these fail.
// ava's own "1..N" plan and "# fail" totals are not used: they do not count crashes the same way.
// Each failure is printed with the first lines of its YAML block (message, assertion, values),
// so a CI log read elsewhere says why, not only what.
// The run also fails when ava exited non-zero without any failing line (counted as 1 failure),
// or when no test ran at all (likewise).
// Exit code: 0 when nothing failed, 1 otherwise, 2 on usage errors.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** How many lines of a failure's YAML block are printed. */
const DETAIL_LINES = 24;

/**
 * Counts a TAP stream.
 * @param {string} text ava's TAP output
 * @returns {{passed: number, failed: number, skipped: number, todo: number, failures: string[], details: string[][]}}
 */
export function countTap(text) {
  const r = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [], details: [] };
  let detail = null; // the YAML block of the last failure, while it is being read
  for (const line of text.split(/\r?\n/)) {
    const m = /^(not ok|ok)\b(?:\s+\d+)?(?:\s*-\s*)?(.*)$/.exec(line);
    if (m === null) {
      if (detail !== null && /^\s/.test(line)) {
        if (detail.length < DETAIL_LINES && !/^\s*(---|\.\.\.)\s*$/.test(line)) detail.push(line.trimEnd());
      } else detail = null;
      continue;
    }
    detail = null;
    const ok = m[1] === 'ok';
    const rest = m[2] ?? '';
    const directive = /\s#\s*(SKIP|TODO)\b[^#]*$/i.exec(` ${rest}`);
    const kind = directive?.[1]?.toUpperCase();
    if (ok && kind === 'SKIP') r.skipped++;
    else if (!ok && kind === 'TODO') r.todo++;
    else if (ok) r.passed++;
    else {
      r.failed++;
      r.failures.push(rest.trim());
      detail = [];
      r.details.push(detail);
    }
  }
  return r;
}

/**
 * Turns counts and ava's exit code into the notes and the summary line.
 * @param {ReturnType<typeof countTap>} c counts
 * @param {number | undefined} avaExit ava's exit code, if known
 * @returns {{lines: string[], exitCode: number}} lines to print (summary last)
 */
export function summarize(c, avaExit) {
  const lines = [];
  let failed = c.failed;
  c.failures.forEach((f, i) => {
    lines.push(`FAILED: ${f}`);
    for (const d of c.details?.[i] ?? []) lines.push(`  ${d}`);
  });
  if (c.passed + c.failed + c.skipped + c.todo === 0) {
    lines.push('no test results in the TAP output (ava did not run any test): counted as 1 failure');
    failed++;
  } else if (avaExit !== undefined && avaExit !== 0 && c.failed === 0) {
    lines.push(`ava exited with code ${avaExit} but reported no failing test: counted as 1 failure`);
    failed++;
  }
  const skipped = c.skipped + c.todo;
  if (c.todo > 0) lines.push(`(${c.todo} todo test(s) are counted as skipped)`);
  lines.push(`${c.passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
  return { lines, exitCode: failed > 0 ? 1 : 0 };
}

/** Checks the counter against a real ava TAP transcript; exits non-zero on a mismatch. */
function selfTest() {
  const tap = [
    'TAP version 13',
    'ok 1 - b › skipped one # SKIP',
    'not ok 2 - b › write this later # TODO',
    'ok 3 - b › passes',
    'not ok 4 - b › fails # not a directive',
    '  ---',
    '    name: AssertionError',
    '    message: boom',
    '  ...',
    'ok 5 - b › logs',
    '#   ok 99 - fake',
    'not ok 6 - c › before hook',
    '# 1 test remaining in c.test.mjs',
    'not ok 7 - Error: uncaught later',
    'not ok 8 - d.test.mjs exited with a non-zero exit code: 1',
    'not ok 9 - No tests found in e.test.mjs',
    '',
    '1..7',
    '# tests 6',
    '# pass 2',
    '# skip 1',
    '# fail 7',
  ].join('\n');
  const cases = [
    [tap, 1, '2 passed, 5 failed, 2 skipped', 1],
    ['TAP version 13\nok 1 - a\nok 2 - b # SKIP\n\n1..2\n', 0, '1 passed, 0 failed, 1 skipped', 0],
    ['TAP version 13\nok 1 - a\nok 2 - b\n\n1..2\n', 0, '2 passed, 0 failed', 0],
    ['TAP version 13\nok 1 - a\n', 1, '1 passed, 1 failed', 1],
    ['TAP version 13\n\n1..0\n# tests 0\n', 0, '0 passed, 1 failed', 1],
    ['', 1, '0 passed, 1 failed', 1],
    ['ok 1 - no dash # skip reason here\nnot ok 2 x # todo later\r\nok 3\n', 0, '1 passed, 0 failed, 2 skipped', 0],
  ];
  let bad = 0;
  for (const [text, avaExit, want, wantExit] of cases) {
    const { lines, exitCode } = summarize(countTap(text), avaExit);
    const got = lines[lines.length - 1];
    if (got !== want || exitCode !== wantExit) {
      bad++;
      console.log(`self-test FAIL: want "${want}" exit ${wantExit}, got "${got}" exit ${exitCode}`);
    }
  }
  const d = countTap(tap).details;
  if (d[0]?.join('|') !== '    name: AssertionError|    message: boom' || d[1]?.length !== 0) {
    bad++;
    console.log(`self-test FAIL: failure details ${JSON.stringify(d.slice(0, 2))}`);
  }
  console.log(bad === 0 ? `self-test: all ${cases.length} cases pass` : `self-test: ${bad} case(s) failed`);
  process.exitCode = bad === 0 ? 0 : 1;
}

/** Command-line entry. */
function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--self-test') return selfTest();
  const file = args[0];
  const i = args.indexOf('--ava-exit');
  const avaExit = i >= 0 ? Number.parseInt(args[i + 1] ?? '', 10) : undefined;
  if (file === undefined || file.startsWith('--') || (avaExit !== undefined && Number.isNaN(avaExit))) {
    console.error('usage: count-results.mjs TAP_FILE [--ava-exit CODE] | --self-test');
    process.exitCode = 2;
    return;
  }
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const { lines, exitCode } = summarize(countTap(text), avaExit);
  for (const line of lines) console.log(line);
  process.exitCode = exitCode;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
