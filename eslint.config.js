// ESLint flat config: typescript-eslint's type-aware rules over the TypeScript sources, tests,
// benches and examples; the plain-JS scripts get the untyped rules only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // scripts/pack-consumer/typed.ts is type-checked inside the consumer project pack-check builds,
  // where 'linescape' resolves; here it cannot.
  { ignores: ['dist/**', 'docs/api/**', 'node_modules/**', 'scripts/pack-consumer/typed.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', 'scripts/*.mjs', 'scripts/pack-consumer/*.mjs'] },
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
);
