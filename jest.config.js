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
    {
      // Cluster tests: a three-node RabbitMQ cluster on loopback ports 5681-5683 of their own,
      // started by the global setup (only when a cluster test runs), its nodes killed and
      // restarted by the tests, stopped by the teardown; with ATTACH=1 the cluster of
      // `npm run cluster:up` instead. About 1.5 minutes; needs root (the nodes run as rabbitmq).
      ...common,
      displayName: 'cluster',
      roots: ['<rootDir>/test/cluster'],
      globalSetup: '<rootDir>/test/support/cluster-setup.ts',
      globalTeardown: '<rootDir>/test/support/cluster-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/cluster-test-setup.ts'],
    },
    {
      // The dashboard in a real browser: Debian's chromium (/usr/bin/chromium, WARREN_TEST_CHROMIUM)
      // driven by puppeteer-core, a worker and the dashboard as processes, the real broker.
      ...common,
      displayName: 'browser',
      roots: ['<rootDir>/test/browser'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/faults-setup.ts'],
    },
    {
      // The Redis Cluster failover test: six redis-server nodes on loopback ports 7310-7315,
      // started and stopped by the test itself, a master killed mid-run; the real broker too.
      ...common,
      displayName: 'redis-cluster',
      roots: ['<rootDir>/test/redis-cluster'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/faults-setup.ts'],
    },
  ],
};
