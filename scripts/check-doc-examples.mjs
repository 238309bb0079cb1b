#!/usr/bin/env node
// Type-checks the TypeScript examples of README.md and docs/*.md, so the guides cannot rot.
//
// Every ```ts (or ```typescript) block becomes its own ES module in a temporary folder and
// is compiled with the repository's TypeScript, `strict`, with `import ... from 'linescape'`
// resolved to the repository's own index.ts (no build needed, always the current source).
// Errors are reported at the Markdown line they come from: `docs/concepts.md:42:7 TS2304 ...`.
//
// Fragments: a block may use `engine` without creating it (a started VoipMediaEngine, declared
// globally below); anything else it uses it must import or `declare`. A block that is not
// meant to compile (pseudo-code, a fragment of an expression) is marked ```ts nocheck; keep
// those rare.
//
// Usage: node scripts/check-doc-examples.mjs [file.md ...]   (default: README.md docs/*.md)
// Exit code 0 when every block compiles, 1 otherwise.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function defaultFiles() {
  const docs = path.join(root, 'docs');
  const md = fs.existsSync(docs)
    ? fs.readdirSync(docs).filter((f) => f.endsWith('.md')).sort().map((f) => path.join('docs', f))
    : [];
  return ['README.md', ...md];
}

/** The fenced TypeScript blocks of one Markdown text, with the line their code starts on. */
function extractBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  let open = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (open === null) {
      const m = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*(.*)$/.exec(line);
      if (!m) continue;
      const lang = m[3].toLowerCase();
      open = { fence: m[2], indent: m[1].length, lang, flags: m[4].split(/\s+/).filter(Boolean), startLine: i + 2, code: [] };
      continue;
    }
    const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
    if (close && close[1][0] === open.fence[0] && close[1].length >= open.fence.length) {
      if ((open.lang === 'ts' || open.lang === 'typescript') && !open.flags.includes('nocheck')) {
        blocks.push({ startLine: open.startLine, code: open.code.join('\n') });
      }
      open = null;
      continue;
    }
    // strip the fence's own indentation (blocks inside list items)
    open.code.push(line.slice(Math.min(open.indent, line.length - line.trimStart().length)));
  }
  return blocks;
}

const GLOBALS = `import type { VoipMediaEngine } from 'linescape';
declare global {
  /** A started engine: what a fragment that does not create its own talks to. */
  const engine: VoipMediaEngine;
}
export {};
`;

function main() {
  const files = process.argv.length > 2 ? process.argv.slice(2) : defaultFiles();
  // Inside the repository's node_modules, so that the examples resolve the same packages an
  // application beside LineScape would (node:*, pino, ...); node_modules is never committed.
  const cache = path.join(root, 'node_modules', '.cache');
  fs.mkdirSync(cache, { recursive: true });
  const dir = fs.mkdtempSync(path.join(cache, 'linescape-doc-examples-'));
  const origin = new Map(); // temp file -> { md, startLine }
  let count = 0;
  try {
    const roots = [path.join(dir, 'globals.d.ts')];
    fs.writeFileSync(roots[0], GLOBALS);
    for (const md of files) {
      const abs = path.resolve(root, md);
      const rel = path.relative(root, abs);
      for (const b of extractBlocks(fs.readFileSync(abs, 'utf8'))) {
        const name = `${rel.replace(/[^\w]+/g, '_')}_L${b.startLine}.mts`;
        const file = path.join(dir, name);
        // `export {}` makes every block a module, even one without imports, so its names stay its own
        fs.writeFileSync(file, `${b.code}\nexport {};\n`);
        roots.push(file);
        origin.set(path.normalize(file), { md: rel, startLine: b.startLine });
        count++;
      }
    }
    const options = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      typeRoots: [path.join(root, 'node_modules', '@types')],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
      resolveJsonModule: true,
      paths: { linescape: [path.join(root, 'index.ts')] },
    };
    const program = ts.createProgram(roots, options);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    let errors = 0;
    for (const d of diagnostics) {
      if (d.category !== ts.DiagnosticCategory.Error) continue;
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      const src = d.file ? origin.get(path.normalize(d.file.fileName)) : undefined;
      if (d.file && !src && !d.file.fileName.endsWith('globals.d.ts')) {
        // an error in the library itself: `npm run typecheck` reports it; say so once here too
        const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
        console.error(`${path.relative(root, d.file.fileName)}:${line + 1}:${character + 1} TS${d.code} ${text}`);
      } else if (d.file && src) {
        const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
        console.error(`${src.md}:${src.startLine + line}:${character + 1} TS${d.code} ${text}`);
      } else {
        console.error(`TS${d.code} ${text}`);
      }
      errors++;
    }
    if (errors > 0) {
      console.error(`doc examples: ${errors} error(s) in ${count} block(s) of ${files.length} file(s)`);
      return 1;
    }
    console.log(`doc examples: ${count} TypeScript block(s) in ${files.length} file(s) compile`);
    return 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = main();
