// ESLint flat config: typescript-eslint's type-aware rules over the TypeScript sources, tests,
// benches and examples; the plain-JS scripts get the untyped rules only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The floors of docs/architecture.md, top to bottom: a floor imports only from the floors below it,
// and none imports the package surface (index.ts). Checked on every import and export-from,
// type-only ones included, so a shared name is defined on the lowest floor that needs it and
// re-exported above.
const FLOORS = ['engine', 'lines', 'mixer', 'media', 'sip', 'ffi'];
// docs/architecture.md also states "media/ knows nothing of SIP; mixer/ sees frames, not RTP".
const SIDEWAYS = { mixer: ['sip'], media: ['sip'] };

function floorRules(floor, index) {
  const above = FLOORS.slice(0, index).map((up) => ({
    regex: `^(\\.\\./)+${up}(/|$)`,
    message: `${floor}/ must not import from ${up}/, a floor above it (docs/architecture.md): define the shared name on the lowest floor that needs it and re-export it above.`,
  }));
  const sideways = (SIDEWAYS[floor] ?? []).map((other) => ({
    regex: `^(\\.\\./)+${other}(/|$)`,
    message: `${floor}/ must not import from ${other}/: media knows nothing of SIP, the mixer sees frames, not RTP (docs/architecture.md).`,
  }));
  const surface = {
    regex: '^(\\.\\./)+index(\\.js)?$',
    message: `${floor}/ must not import the package surface (index.ts): import the defining module on this floor or below.`,
  };
  // import() expressions and `import('…')` types escape no-restricted-imports; the same sources
  // are refused there. esquery regexes cannot hold a slash, hence \x2F.
  const barred = [...FLOORS.slice(0, index), ...(SIDEWAYS[floor] ?? []), 'index'].join('|');
  const source = `/^(\\.\\.\\x2F)+(${barred})(\\x2F|\\.js$|$)/`;
  const dynamic = `${floor}/ must not reach ${barred.replaceAll('|', ', ')} through import() either (docs/architecture.md).`;
  return {
    files: [`${floor}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...above, ...sideways, surface] }],
      'no-restricted-syntax': [
        'error',
        { selector: `ImportExpression[source.value=${source}]`, message: dynamic },
        { selector: `TSImportType[argument.literal.value=${source}]`, message: dynamic },
      ],
    },
  };
}

export default tseslint.config(
  // scripts/pack-consumer/typed.ts is type-checked inside the consumer project pack-check builds,
  // where 'linescape' resolves; here it cannot.
  { ignores: ['dist/**', 'docs/api/**', 'node_modules/**', 'scripts/pack-consumer/typed.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', 'scripts/*.mjs', 'scripts/pack-consumer/*.mjs', 'examples/callcenter/web/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_name` marks a parameter kept for its position in a callback's signature.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Host objects built of getters name the object they read from `engine` or `self`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['engine', 'self'] }],
    },
  },
  {
    files: ['**/*.mjs', 'eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', performance: 'readonly' } },
  },
  {
    // Tests call procedures detached on purpose (`engine.x.call(undefined)`) to prove they never throw.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  ...FLOORS.map(floorRules),
);
