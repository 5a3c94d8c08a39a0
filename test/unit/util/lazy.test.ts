import { Lazy } from '../../../src/util/lazy';

describe('Lazy', () => {
  test('concurrent first callers share one attempt', async () => {
    let made = 0;
    const lazy = new Lazy(async () => {
      made += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return made;
    });
    expect(await Promise.all([lazy.get(), lazy.get(), lazy.get()])).toEqual([1, 1, 1]);
    expect(made).toBe(1);
  });

  test('a failed attempt is forgotten, so the next get tries again', async () => {
    let calls = 0;
    const lazy = new Lazy(async () => {
      calls += 1;
      if (calls === 1) throw new Error('broker down');
      return 'connected';
    });
    await expect(lazy.get()).rejects.toThrow('broker down');
    await expect(lazy.get()).resolves.toBe('connected');
    expect(calls).toBe(2);
  });

  test('peek starts nothing; reset makes the next get make a new value', async () => {
    let made = 0;
    const lazy = new Lazy(async () => (made += 1));
    expect(lazy.peek()).toBeUndefined();
    expect(await lazy.get()).toBe(1);
    expect(await lazy.peek()).toBe(1);
    lazy.reset();
    expect(lazy.peek()).toBeUndefined();
    expect(await lazy.get()).toBe(2);
  });
});
