import { BrokerAuthError, BrokerTlsError, BrokerUnavailableError, BrokerVhostError, type ConnectAttempt } from '../../../src/errors';
import { connectError, describeConnectFailure } from '../../../src/transport/connect-failure';

/** An error as Node reports a socket or TLS failure: a message and a string `code`. */
function nodeError(message: string, code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

const URL = 'amqp://guest:secret@127.0.0.1:5672/';

/*
 * Each error below is what amqplib 2.3.1 on Node 20 rejected a connect with, provoked against
 * RabbitMQ 3.10 on this machine (a wrong password, the vhost /nope, a closed port, a TCP proxy
 * that accepts and never answers, an unknown host, amqps:// to the plain port, a TLS proxy with a
 * self-signed certificate) and copied verbatim.
 */
describe('describeConnectFailure: the cause of a failed connect attempt', () => {
  test.each<[string, Error, string, ConnectAttempt['cause'], string]>([
    [
      'a wrong password (403 in the handshake)',
      new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."'),
      'amqp://guest:nope@127.0.0.1:5672/',
      'auth',
      'authentication refused for user "guest" (403 ACCESS_REFUSED: Login was refused using authentication mechanism PLAIN. For details see the broker logfile.)',
    ],
    [
      'a vhost that does not exist (the broker closes at connection.open)',
      new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'),
      'amqp://guest:guest@127.0.0.1:5672/nope',
      'vhost',
      'virtual host "nope" refused: it does not exist, or user "guest" may not use it (the broker closed the connection at connection.open)',
    ],
    [
      'an escaped vhost',
      new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'),
      'amqp://app%20user:x@127.0.0.1:5672/%2Fprod',
      'vhost',
      'virtual host "/prod" refused: it does not exist, or user "app user" may not use it (the broker closed the connection at connection.open)',
    ],
    [
      'a closed port',
      nodeError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED', { errno: -111, syscall: 'connect', address: '127.0.0.1', port: 1 }),
      'amqp://guest:guest@127.0.0.1:1/',
      'refused',
      'connection refused (ECONNREFUSED): nothing listens at 127.0.0.1:1',
    ],
    [
      'an address that accepts and never answers (amqplib’s socket timeout)',
      new Error('connect ETIMEDOUT'),
      URL,
      'timeout',
      'no answer within 5000 ms (TCP connect and AMQP handshake timed out)',
    ],
    [
      'a TCP connect the system timed out',
      nodeError('connect ETIMEDOUT 10.0.0.1:5672', 'ETIMEDOUT'),
      'amqp://guest:guest@10.0.0.1:5672/',
      'timeout',
      'no answer within 5000 ms (TCP connect and AMQP handshake timed out)',
    ],
    [
      'an unknown host',
      nodeError('getaddrinfo ENOTFOUND no-such-host.invalid', 'ENOTFOUND', { errno: -3008, syscall: 'getaddrinfo', hostname: 'no-such-host.invalid' }),
      'amqp://guest:guest@no-such-host.invalid:5672/',
      'unreachable',
      'unknown host (ENOTFOUND): no-such-host.invalid',
    ],
    [
      'a DNS that does not answer',
      nodeError('getaddrinfo EAI_AGAIN broker.internal', 'EAI_AGAIN'),
      'amqp://guest:guest@broker.internal:5672/',
      'unreachable',
      'the host name could not be resolved now (DNS did not answer) (EAI_AGAIN): broker.internal',
    ],
    [
      'a host with no route',
      nodeError('connect EHOSTUNREACH 10.1.2.3:5672', 'EHOSTUNREACH'),
      'amqp://guest:guest@10.1.2.3:5672/',
      'unreachable',
      'host unreachable (EHOSTUNREACH): 10.1.2.3',
    ],
    [
      'a network with no route',
      nodeError('connect ENETUNREACH 10.1.2.3:5672', 'ENETUNREACH'),
      'amqp://guest:guest@10.1.2.3:5672/',
      'unreachable',
      'network unreachable (ENETUNREACH): 10.1.2.3',
    ],
    [
      'amqps:// to a plain AMQP port',
      nodeError(
        '806CC98EB07F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n',
        'ERR_SSL_WRONG_VERSION_NUMBER',
        { library: 'SSL routines', reason: 'wrong version number' },
      ),
      'amqps://guest:guest@127.0.0.1:5672/',
      'tls',
      'TLS handshake failed (ERR_SSL_WRONG_VERSION_NUMBER: wrong version number): is it an amqps (TLS) port?',
    ],
    [
      'a self-signed certificate',
      nodeError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'),
      'amqps://guest:guest@127.0.0.1:5671/',
      'tls',
      'TLS certificate not accepted (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate)',
    ],
    [
      'a certificate for another name',
      nodeError("Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: ", 'ERR_TLS_CERT_ALTNAME_INVALID'),
      'amqps://guest:guest@127.0.0.1:5671/',
      'tls',
      "TLS certificate not accepted (ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: )",
    ],
    [
      'a peer that closes during the handshake',
      new Error('Socket closed abruptly during opening handshake'),
      URL,
      'closed',
      'the connection closed during the AMQP handshake: is it an AMQP port?',
    ],
    [
      'a reset connection',
      nodeError('read ECONNRESET', 'ECONNRESET'),
      URL,
      'closed',
      'the connection was reset during the handshake (ECONNRESET)',
    ],
  ])('%s', (_title, error, url, cause, reason) => {
    expect(describeConnectFailure(error, url, 5000)).toEqual({ broker: url.replace(/:([^:@/]+)@/, ':***@'), cause, reason });
  });

  test('a handshake refusal with another code is reported in the broker’s words, as no known cause', () => {
    const error = new Error('Handshake terminated by server: 541 (INTERNAL-ERROR) with message "INTERNAL_ERROR - boom"');
    expect(describeConnectFailure(error, URL, 5000)).toEqual({
      broker: 'amqp://guest:***@127.0.0.1:5672/',
      cause: 'other',
      reason: 'the broker ended the handshake (541 INTERNAL_ERROR: boom)',
    });
  });

  test('a text amqplib might word otherwise one day is never taken for another cause', () => {
    for (const text of ['Login refused (403)', 'ACCESS-REFUSED', 'connect timed out', 'Expected ConnectionOpenOk']) {
      expect(describeConnectFailure(new Error(text), URL, 5000)).toEqual({ broker: 'amqp://guest:***@127.0.0.1:5672/', cause: 'other', reason: text });
    }
  });
});

describe('connectError: the error of a connect that failed at every address', () => {
  const attempt = (broker: string, cause: ConnectAttempt['cause'], reason: string): ConnectAttempt => ({ broker, cause, reason });
  const auth = attempt('amqp://guest:***@a:5672/', 'auth', 'authentication refused for user "guest" (403 ACCESS_REFUSED)');
  const refused = attempt('amqp://guest:***@b:5672/', 'refused', 'connection refused (ECONNREFUSED): nothing listens at b:5672');

  test('one address: names it and what happened there', () => {
    const error = connectError([auth]);
    expect(error.message).toBe('could not connect to the broker at amqp://guest:***@a:5672/: authentication refused for user "guest" (403 ACCESS_REFUSED)');
    expect(error.attempts).toEqual([auth]);
  });

  test('several addresses: names each, in order', () => {
    expect(connectError([auth, refused]).message).toBe(
      'could not connect to any of 2 broker addresses: amqp://guest:***@a:5672/: authentication refused for user "guest" (403 ACCESS_REFUSED); ' +
        'amqp://guest:***@b:5672/: connection refused (ECONNREFUSED): nothing listens at b:5672',
    );
  });

  test('out of time: says so, with the address still being tried and those not tried', () => {
    const timeout = attempt('amqp://guest:***@a:5672/', 'timeout', 'no answer within 5000 ms (TCP connect and AMQP handshake timed out)');
    expect(connectError([timeout], { timedOutMs: 10_000, trying: 'amqp://guest:pw@b:5672/', untried: ['amqp://c:5672/'] }).message).toBe(
      'could not connect to any of 3 broker addresses within 10000 ms: amqp://guest:***@a:5672/: no answer within 5000 ms (TCP connect and AMQP handshake timed out); ' +
        'amqp://guest:***@b:5672/: no answer yet (handshake still running); amqp://c:5672/: not tried',
    );
  });

  test.each<[string, ConnectAttempt[], typeof BrokerUnavailableError, string]>([
    ['every address refused the credentials', [auth, { ...auth, broker: 'amqp://guest:***@b:5672/' }], BrokerAuthError, 'WARREN_BROKER_AUTH'],
    ['every address refused the vhost', [{ ...auth, cause: 'vhost' }], BrokerVhostError, 'WARREN_BROKER_VHOST'],
    ['every address failed TLS', [{ ...auth, cause: 'tls' }], BrokerTlsError, 'WARREN_BROKER_TLS'],
    ['the addresses failed for different reasons', [auth, refused], BrokerUnavailableError, 'WARREN_BROKER_UNAVAILABLE'],
    ['nothing listens', [refused], BrokerUnavailableError, 'WARREN_BROKER_UNAVAILABLE'],
  ])('%s: %p', (_title, attempts, Class, code) => {
    const error = connectError(attempts);
    expect(error).toBeInstanceOf(Class);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(error.constructor).toBe(Class);
    expect(error.code).toBe(code);
  });

  test('out of time with one address unanswered is never a refusal, even if the others refused', () => {
    const error = connectError([auth], { timedOutMs: 1000, trying: 'amqp://b:5672/' });
    expect(error.code).toBe('WARREN_BROKER_UNAVAILABLE');
  });
});
