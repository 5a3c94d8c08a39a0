/** @type {import('jest').Config} */
const common = {
  // Jest runs tests as CommonJS. tsconfig.json says `module: node16` (so that the CLI's import()
  // stays import()), which emits the same CommonJS otherwise; ts-jest wants it said outright.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'node' } }] },
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
};

module.exports = {
  testTimeout: 30000,
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'] },
    {
      ...common,
      displayName: 'integration',
      roots: ['<rootDir>/test/integration'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      // Fault tests: real broker, worker processes killed and restarted, counts printed.
      ...common,
      displayName: 'faults',
      roots: ['<rootDir>/test/faults'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      // testTimeout is global-only in jest 29; a setup file raises it for this project alone.
      setupFilesAfterEnv: ['<rootDir>/test/support/faults-setup.ts'],
    },
  ],
};
