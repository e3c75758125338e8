import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Sample apps are the users' code, not ours: they are deployed by the tests, never linted.
  { ignores: ['dist/', 'node_modules/', 'templates/**/node_modules/', 'test/fixtures/apps/**', 'templates/apps/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A connection assigned once but read by closures created earlier must stay `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js', 'templates/**/*.js', '*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', URL: 'readonly' } },
  },
);
