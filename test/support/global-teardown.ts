export default async function globalTeardown(): Promise<void> {
  const container = (globalThis as { __WARREN_CONTAINER__?: { stop(): Promise<unknown> } }).__WARREN_CONTAINER__;
  if (container) await container.stop();
}
