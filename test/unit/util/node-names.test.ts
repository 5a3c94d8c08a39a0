import { hostname } from 'node:os';
import { hostFormat, nodeFormat } from '../../../src/util/node-names';

describe("Celery's node-name placeholders", () => {
  test('hostFormat (-n): %h the host, %n its first label, %d its domain, %% a percent sign; others stay', () => {
    expect(hostFormat('worker1@%h', 'box.example.com')).toBe('worker1@box.example.com');
    expect(hostFormat('%n-%d', 'box.example.com')).toBe('box-example.com');
    expect(hostFormat('w@%n', 'box')).toBe('w@box');
    expect(hostFormat('%d', 'box')).toBe('');
    expect(hostFormat('100%% %x', 'box')).toBe('100% %x');
    expect(hostFormat('w@%h')).toBe(`w@${hostname()}`);
  });

  test('nodeFormat (--logfile, --pidfile): %n the node name, %h its host, %p the whole name, %i 0 and %I nothing', () => {
    expect(nodeFormat('/var/log/warren/%n.log', 'worker1@box.example.com')).toBe('/var/log/warren/worker1.log');
    expect(nodeFormat('%n-%h-%d.pid', 'worker1@box.example.com')).toBe('worker1-box.example.com-example.com.pid');
    expect(nodeFormat('%p%I-%i.log', 'worker1@box')).toBe('worker1@box-0.log');
    expect(nodeFormat('%n@%h', 'solo')).toBe(`solo@${hostname()}`);
  });
});
