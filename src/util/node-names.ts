import { hostname as osHostname } from 'node:os';

/**
 * Celery's host placeholders in `pattern`: `%h` the host (`box.example.com`), `%n` its first label
 * (`box`), `%d` its domain (`example.com`), `%%` a percent sign, and any of `extra` (`{ p: ... }`
 * for `%p`). Other `%x` stay as they are. `-n worker1@%h` on box.example.com is `worker1@box.example.com`.
 */
export function hostFormat(pattern: string, host: string = osHostname(), extra: Readonly<Record<string, string>> = {}): string {
  const dot = host.indexOf('.');
  const values: Record<string, string> = { h: host, n: dot < 0 ? host : host.slice(0, dot), d: dot < 0 ? '' : host.slice(dot + 1), '%': '%', ...extra };
  return pattern.replace(/%(.)/g, (whole, key: string) => values[key] ?? whole);
}

/**
 * Celery's node-name placeholders in `pattern` (`--logfile`, `--pidfile`) for the node `nodename`
 * (`name@host`): `%p` the whole node name, `%n` its name, `%h` its host, `%d` the host's domain,
 * `%%` a percent sign. `%i` is 0 and `%I` nothing: every process of a warren worker (its pool
 * processes too) writes to the main process's files.
 * `/var/log/warren/%n.log` for `worker1@box` is `/var/log/warren/worker1.log`.
 */
export function nodeFormat(pattern: string, nodename: string): string {
  const at = nodename.indexOf('@');
  const host = at < 0 ? osHostname() : nodename.slice(at + 1);
  const name = at < 0 ? nodename : nodename.slice(0, at);
  return hostFormat(pattern, host, { n: name, p: nodename, i: '0', I: '' });
}
