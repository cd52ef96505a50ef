/**
 * Jest runs the TypeScript sources as native ES modules (the package is ESM),
 * so `npm test` starts Node with --experimental-vm-modules.
 * ts-jest only transpiles (isolatedModules); `npm run typecheck` type-checks.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 20000,
  maxWorkers: 2,
};
