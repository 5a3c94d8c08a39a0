import { signalName, signalNumber } from '../../../src/util/signals';

describe('signalName and signalNumber (revoke --terminate --signal)', () => {
  test.each([
    ['SIGKILL', 'SIGKILL', 9],
    ['KILL', 'SIGKILL', 9],
    ['kill', 'SIGKILL', 9],
    [' sigterm ', 'SIGTERM', 15],
    ['9', 'SIGKILL', 9],
    [15, 'SIGTERM', 15],
    ['SIGUSR1', 'SIGUSR1', 10],
  ])('reads %p as %s (%i), as Celery\'s signum does', (given, name, number) => {
    expect(signalName(given)).toBe(name);
    expect(signalNumber(given)).toBe(number);
  });

  test.each(['SIGKIL', 'TERMINATE', '', '999', 'SIG'])('knows no signal %p', (given) => {
    expect(signalName(given)).toBeUndefined();
    expect(signalNumber(given)).toBeUndefined();
  });
});
