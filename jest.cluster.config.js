/**
 * `npm run test:cluster`: the tests that need a three-node RabbitMQ cluster on loopback
 * (test/support/rabbitmq-cluster.ts). The global setup starts the cluster and forms it, the
 * teardown stops it; with ATTACH=1 they use the cluster of `npm run cluster:up` instead and leave
 * it running. Apart from `npm test`: these tests kill and restart nodes, need root (the nodes run
 * as the rabbitmq user) and take a few minutes.
 * @type {import('jest').Config}
 */
module.exports = {
  displayName: 'cluster',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'node' } }] },
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  roots: ['<rootDir>/test/cluster'],
  globalSetup: '<rootDir>/test/support/cluster-setup.ts',
  globalTeardown: '<rootDir>/test/support/cluster-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/cluster-test-setup.ts'],
  testTimeout: 300000,
};
