// warren dashboard: one page, no build step. Every value that came from the fleet goes into the
// page as text (createTextNode / textContent), never as markup; charts are SVG built node by node.
'use strict';
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  const view = document.getElementById('view');
  const SVG = 'http://www.w3.org/2000/svg';
  let state = null;
  let current = null; // { name, update(state) }

  // ---- DOM helpers ---------------------------------------------------------------------------

  /** el('td', { class: 'num', onclick: fn, dataset: { id } }, 'text', child...): strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'value') node.value = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }
  function badge(text, kind) {
    return el('span', { class: `badge ${kind || text}` }, text);
  }
  function fmtTime(ms) {
    return ms ? new Date(ms).toLocaleTimeString() : '';
  }
  function fmtIso(iso) {
    return iso ? new Date(iso).toLocaleString() : '—';
  }
  function ago(ms) {
    if (!ms) return '';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
  }
  function num(value, digits) {
    return value === null || value === undefined ? '—' : digits ? Number(value).toFixed(digits) : String(value);
  }

  /**
   * Keeps a tbody's rows in step with `items`, keyed: a row is built once (its buttons and
   * selects keep their state) and updated in place each time.
   */
  function syncRows(tbody, items, key, build, update) {
    const existing = new Map();
    for (const row of Array.from(tbody.children)) existing.set(row.dataset.key, row);
    let previous = null;
    for (const item of items) {
      const k = key(item);
      let row = existing.get(k);
      if (row) existing.delete(k);
      else {
        row = build(item);
        row.dataset.key = k;
      }
      update(row, item);
      const next = previous ? previous.nextSibling : tbody.firstChild;
      if (next !== row) tbody.insertBefore(row, next);
      previous = row;
    }
    for (const row of existing.values()) row.remove();
  }
  function setCells(row, values) {
    values.forEach((value, i) => {
      if (value === undefined) return; // a cell the caller fills itself
      const cell = row.cells[i];
      if (value instanceof Node) {
        if (cell.firstChild !== value) append(clear(cell), [value]);
      } else if (cell.textContent !== String(value ?? '')) cell.textContent = value ?? '';
    });
  }
  function table(headers) {
    const tbody = el('tbody');
    const t = el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', { class: h.endsWith('#') ? 'num' : '' }, h.replace(/#$/, ''))))), tbody);
    return { table: t, tbody };
  }

  // ---- talking to the server -----------------------------------------------------------------

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: method === 'GET' ? {} : { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: method === 'GET' ? undefined : JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
    return data;
  }
  let flashTimer;
  function flash(message, isError) {
    const box = document.getElementById('flash');
    box.textContent = message;
    box.className = isError ? 'flash error' : 'flash';
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => (box.hidden = true), 5000);
  }
  /** Runs an action from a button: asks first when `question`, says what happened. */
  async function act(label, method, path, body, question) {
    if (question && !window.confirm(question)) return undefined;
    try {
      const result = await api(method, path, body);
      const replies = Array.isArray(result.replies) ? ` (${result.replies.length} repl${result.replies.length === 1 ? 'y' : 'ies'})` : '';
      flash(`${label}: done${replies}`);
      return result;
    } catch (error) {
      flash(`${label}: ${error.message}`, true);
      return undefined;
    }
  }
  function button(label, onclick, attrs) {
    return el('button', Object.assign({ type: 'button', onclick }, attrs || {}), label);
  }

  // ---- charts --------------------------------------------------------------------------------

  /** A line of [t, value] points over the last hour; the max in the corner. */
  function lineChart(points, width, height) {
    const now = Date.now();
    const start = now - 3600000;
    const max = Math.max(1, ...points.map((p) => p[1]));
    const x = (t) => ((t - start) / 3600000) * width;
    const y = (v) => height - 2 - (v / max) * (height - 14);
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    return svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' },
      svg('title', {}, `depth over the last hour, at most ${max}`),
      svg('line', { x1: 0, y1: height - 1, x2: width, y2: height - 1, stroke: '#dde1e4' }),
      svg('path', { d: d || 'M0,0', fill: 'none', stroke: '#1f5fa8', 'stroke-width': 1.5 }),
      svg('text', { x: 2, y: 10, 'font-size': 9, fill: '#6b7378' }, `max ${max}`));
  }
  /** Bars per minute: succeeded up (green), failed stacked (red). */
  function barChart(perMinute, width, height) {
    const max = Math.max(1, ...perMinute.map(([s, f]) => s + f));
    const w = width / perMinute.length;
    const nodes = [svg('title', {}, `tasks per minute over the last hour, at most ${max}`)];
    perMinute.forEach(([s, f], i) => {
      const hs = (s / max) * (height - 12);
      const hf = (f / max) * (height - 12);
      if (s) nodes.push(svg('rect', { x: i * w, y: height - hs, width: Math.max(1, w - 1), height: hs, fill: '#1a7f37' }));
      if (f) nodes.push(svg('rect', { x: i * w, y: height - hs - hf, width: Math.max(1, w - 1), height: hf, fill: '#c62828' }));
    });
    nodes.push(svg('text', { x: 2, y: 9, 'font-size': 9, fill: '#6b7378' }, `max ${max}/min`));
    return svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' }, ...nodes);
  }

  // ---- views ---------------------------------------------------------------------------------

  const views = {};

  views.workers = function () {
    const { table: t, tbody } = table(['worker', 'status', 'software', 'pool', 'concurrency#', 'prefetch#', 'queues', 'active#', 'processed#', 'succeeded#', 'failed#', 'load', 'last heard', 'actions']);
    const rates = el('div', { class: 'rates' });
    append(view, [el('h2', {}, 'Workers'), rates, t]);
    return (s) => {
      const r = s.rates;
      rates.textContent = `tasks per second (last 10 s): received ${r.received.toFixed(1)}, started ${r.started.toFixed(1)}, succeeded ${r.succeeded.toFixed(1)}, failed ${r.failed.toFixed(1)}, retried ${r.retried.toFixed(1)}, revoked ${r.revoked.toFixed(1)}`;
      syncRows(tbody, s.workers, (w) => w.hostname, (w) => {
        const row = el('tr', { dataset: { worker: w.hostname } }, Array.from({ length: 13 }, () => el('td')), el('td'));
        [4, 5, 7, 8, 9, 10].forEach((i) => (row.cells[i].className = 'num'));
        const queue = el('select', { 'aria-label': 'queue' }, s.queues.map((q) => el('option', { value: q.name }, q.name)));
        const path = (command) => `/api/workers/${encodeURIComponent(w.hostname)}/${command}`;
        append(row.cells[13], [
          button('Shutdown', () => act(`shutdown ${w.hostname}`, 'POST', path('shutdown'), {}, `Shut down worker ${w.hostname}? It finishes its running tasks and exits.`), { class: 'danger' }),
          button('Enable events', () => act(`enable events on ${w.hostname}`, 'POST', path('enable_events'))),
          queue,
          button('Add consumer', () => act(`add consumer ${queue.value}`, 'POST', path('add_consumer'), { queue: queue.value })),
          button('Cancel consumer', () => act(`cancel consumer ${queue.value}`, 'POST', path('cancel_consumer'), { queue: queue.value }, `Stop ${w.hostname} consuming ${queue.value}?`)),
        ]);
        return row;
      }, (row, w) => {
        row.className = w.alive ? '' : 'offline';
        setCells(row, [
          w.hostname, undefined, w.software || '', w.pool || '', num(w.concurrency), num(w.prefetch), (w.queues || []).join(', '),
          num(w.active), num(w.processed), w.succeeded, w.failed, w.loadavg ? w.loadavg.join(' ') : '', ago(w.lastHeard),
        ]);
        const status = row.cells[1];
        if (status.textContent !== (w.alive ? 'online' : 'offline')) append(clear(status), [badge(w.alive ? 'online' : 'offline')]);
      });
      if (s.workers.length === 0 && !tbody.rows.length) append(tbody, [el('tr', { dataset: { key: '' } }, el('td', { colspan: 14, class: 'muted' }, 'No worker heard from yet (workers send heartbeats every 2 s).'))]);
    };
  };

  views.queues = function () {
    const { table: t, tbody } = table(['queue', 'ready#', 'unacked#', 'consumers#', 'in/s#', 'out/s#', 'dead letters', 'depth, last hour']);
    append(view, [el('h2', {}, 'Queues'), t,
      el('p', { class: 'muted' }, 'Ready and consumers: asked of the broker. Unacked: what workers said they hold. out/s: tasks workers received (events); in/s: that plus the growth of the ready depth.')]);
    return (s) => {
      syncRows(tbody, s.queues, (q) => q.name, (q) => {
        const row = el('tr', { dataset: { queue: q.name } }, Array.from({ length: 8 }, () => el('td')));
        [1, 2, 3, 4, 5].forEach((i) => (row.cells[i].className = 'num'));
        return row;
      }, (row, q) => {
        const dead = q.deadLetterQueue ? el('a', { href: `#/dead-letters/${encodeURIComponent(q.deadLetterQueue)}` }, `${num(q.deadLetters)} in ${q.deadLetterQueue}`) : '—';
        setCells(row, [q.name, q.ready === null ? 'not on the broker' : q.ready, num(q.unacked), num(q.consumers), q.publishRate.toFixed(1), q.deliverRate.toFixed(1)]);
        append(clear(row.cells[6]), [dead]);
        append(clear(row.cells[7]), [lineChart(q.history, 220, 40)]);
      });
    };
  };

  const STATES = ['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED'];
  const READY = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']);
  function taskActions(task) {
    if (READY.has(task.state)) return [];
    const path = `/api/tasks/${encodeURIComponent(task.uuid)}/revoke`;
    return [
      button('Revoke', () => act(`revoke ${task.uuid}`, 'POST', path, { terminate: false }), { class: 'danger', dataset: { action: 'revoke' } }),
      button('Terminate', () => act(`terminate ${task.uuid}`, 'POST', path, { terminate: true }, `Terminate task ${task.uuid} if it is running?`), { class: 'danger', dataset: { action: 'terminate' } }),
    ];
  }

  views.tasks = function () {
    const filters = { name: el('select', { 'aria-label': 'name' }), state: el('select', { 'aria-label': 'state' }), worker: el('select', { 'aria-label': 'worker' }), id: el('input', { type: 'search', placeholder: 'task id', 'aria-label': 'task id' }) };
    append(filters.state, [el('option', { value: '' }, 'any state'), STATES.map((st) => el('option', { value: st }, st))]);
    const charts = el('div', { class: 'charts' });
    const summary = el('div', { class: 'muted' });
    const { table: t, tbody } = table(['id', 'name', 'state', 'worker', 'received', 'runtime#', 'args', 'kwargs', 'result / exception', '']);
    append(view, [el('h2', {}, 'Tasks'), charts,
      el('div', { class: 'filters' }, el('label', {}, 'name ', filters.name), el('label', {}, 'state ', filters.state), el('label', {}, 'worker ', filters.worker), el('label', {}, 'search ', filters.id), summary), t]);
    let shownVersion = -1;
    let loading = false;
    let again = false;
    function fillSelect(select, values, anyLabel) {
      const want = ['', ...values];
      const have = Array.from(select.options).map((o) => o.value);
      if (JSON.stringify(want) === JSON.stringify(have)) return;
      const chosen = select.value;
      append(clear(select), want.map((v) => el('option', { value: v }, v || anyLabel)));
      select.value = want.includes(chosen) ? chosen : '';
    }
    async function load() {
      if (loading) return void (again = true);
      loading = true;
      try {
        const q = new URLSearchParams();
        for (const [key, input] of Object.entries(filters)) if (input.value) q.set(key, input.value.trim());
        const tasks = await api('GET', `/api/tasks?${q}`);
        syncRows(tbody, tasks, (task) => task.uuid, (task) => {
          const row = el('tr', { dataset: { id: task.uuid } }, Array.from({ length: 10 }, () => el('td')));
          row.cells[0].className = 'mono id';
          row.cells[5].className = 'num';
          [6, 7, 8].forEach((i) => (row.cells[i].className = 'mono clip'));
          append(row.cells[0], [el('a', { href: `#/task/${encodeURIComponent(task.uuid)}` }, task.uuid)]);
          return row;
        }, (row, task) => {
          const outcome = task.state === 'SUCCESS' ? task.result : task.exception;
          setCells(row, [undefined, task.name || '?', undefined, task.worker || '', fmtTime(task.received || task.sent), task.runtime === undefined ? '' : task.runtime.toFixed(3), task.args || '', task.kwargs || '', outcome || '']);
          row.cells[6].title = task.args || '';
          row.cells[8].title = outcome || '';
          if (row.dataset.state !== task.state) {
            row.dataset.state = task.state;
            append(clear(row.cells[2]), [badge(task.state)]);
            append(clear(row.cells[9]), taskActions(task));
          }
        });
      } catch (error) {
        flash(`tasks: ${error.message}`, true);
      } finally {
        loading = false;
        if (again) {
          again = false;
          void load();
        }
      }
    }
    for (const input of Object.values(filters)) input.addEventListener(input.tagName === 'INPUT' ? 'input' : 'change', () => void load());
    return (s) => {
      fillSelect(filters.name, s.tasks.names, 'any name');
      fillSelect(filters.worker, s.workers.map((w) => w.hostname), 'any worker');
      summary.textContent = `${s.tasks.kept} of at most ${s.tasks.max} tasks kept${s.tasks.evicted ? `, ${s.tasks.evicted} forgotten` : ''}`;
      syncRows(charts, s.tasks.stats, (n) => n.name, (n) => el('div', { class: 'chart', dataset: { name: n.name } }, el('div', { class: 'title' }), el('div', { class: 'muted' }), el('div')), (box, n) => {
        box.children[0].textContent = n.name;
        const total = n.succeeded + n.failed;
        box.children[1].textContent = `${n.succeeded} succeeded, ${n.failed} failed (${total ? ((100 * n.failed) / total).toFixed(1) : '0.0'}% failures)`;
        append(clear(box.children[2]), [barChart(n.perMinute, 260, 44)]);
      });
      if (s.tasks.version !== shownVersion) {
        shownVersion = s.tasks.version;
        void load();
      }
    };
  };

  views.task = function (id) {
    const box = el('div');
    append(view, [el('p', {}, el('a', { href: '#/tasks' }, '← all tasks')), el('h2', {}, 'Task ', el('span', { class: 'mono' }, id)), box]);
    let shownVersion = -1;
    async function load() {
      let task;
      try {
        task = await api('GET', `/api/tasks/${encodeURIComponent(id)}`);
      } catch (error) {
        append(clear(box), [el('p', { class: 'muted' }, error.message)]);
        return;
      }
      const link = (uuid) => (uuid ? el('a', { href: `#/task/${encodeURIComponent(uuid)}`, class: 'mono' }, uuid) : '—');
      const rows = [
        ['state', badge(task.state)], ['name', task.name || '?'], ['worker', task.worker || '—'], ['queue', task.queue || '—'],
        ['sent', fmtTime(task.sent) || '—'], ['received', fmtTime(task.received) || '—'], ['started', fmtTime(task.started) || '—'], ['finished', fmtTime(task.finished) || '—'],
        ['runtime', task.runtime === undefined ? '—' : `${task.runtime.toFixed(3)} s`], ['retries', num(task.retries)], ['eta', task.eta || '—'], ['expires', task.expires || '—'],
        ['args', task.args || '—'], ['kwargs', task.kwargs || '—'], ['result', task.result || '—'], ['exception', task.exception || '—'],
        ['parent', link(task.parentId)], ['root', link(task.rootId)], ['children', task.children.length ? task.children.map((c) => el('div', {}, link(c))) : '—'],
      ];
      append(clear(box), [
        el('div', { class: 'filters' }, taskActions(task)),
        el('dl', { class: 'fields', dataset: { state: task.state } }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', { class: k === 'args' || k === 'kwargs' || k === 'result' ? 'mono' : '' }, v)])),
        task.traceback ? [el('h3', {}, 'Traceback'), el('pre', {}, task.traceback)] : null,
      ]);
    }
    return (s) => {
      if (s.tasks.version !== shownVersion) {
        shownVersion = s.tasks.version;
        void load();
      }
    };
  };

  views.schedule = function () {
    const leader = el('p');
    const problem = el('p', { class: 'problems', hidden: true });
    const { table: t, tbody } = table(['entry', 'source', 'enabled', 'task', 'schedule', 'last run', 'next run', 'actions']);
    append(view, [el('h2', {}, 'Schedule'), leader, problem, t]);
    return (s) => {
      append(clear(leader), ['beat leader: ', badge(s.schedule.leader === 'held' ? 'held' : s.schedule.leader === 'none' ? 'none' : 'unknown', s.schedule.leader),
        s.schedule.leader === 'held' ? ' (a beat holds the lock and fires the schedule)' : s.schedule.leader === 'none' ? ' (no beat runs: nothing fires)' : '']);
      problem.hidden = !s.schedule.error;
      problem.textContent = s.schedule.error || '';
      syncRows(tbody, s.schedule.entries, (e) => e.name, (e) => {
        const row = el('tr', { dataset: { entry: e.name } }, Array.from({ length: 8 }, () => el('td')));
        const path = (action) => `/api/schedule/${encodeURIComponent(e.name)}/${action}`;
        const toggle = button('', async () => {
          const enable = toggle.dataset.enabled !== 'true';
          await act(`${enable ? 'enable' : 'disable'} ${e.name}`, 'POST', path(enable ? 'enable' : 'disable'));
        }, { dataset: { action: 'toggle' } });
        append(row.cells[7], [toggle, button('Run now', () => act(`run ${e.name} now`, 'POST', path('run'), {}, `Send ${e.name}'s task now (its schedule stays as it is)?`), { dataset: { action: 'run' } })]);
        return row;
      }, (row, e) => {
        setCells(row, [e.name, e.source, undefined, e.task, e.schedule, fmtIso(e.lastRun), e.enabled ? fmtIso(e.nextRun) : '—']);
        if (row.dataset.enabled !== String(e.enabled)) {
          row.dataset.enabled = String(e.enabled);
          append(clear(row.cells[2]), [badge(e.enabled ? 'enabled' : 'disabled')]);
          const toggle = row.cells[7].firstChild;
          toggle.dataset.enabled = String(e.enabled);
          toggle.textContent = e.enabled ? 'Disable' : 'Enable';
        }
      });
    };
  };

  views['dead-letters'] = function (queue) {
    const list = el('div', { class: 'filters' });
    const { table: t, tbody } = table(['task id', 'task', 'reason', 'from queue', 'worker', 'dead-lettered', 'args', 'actions']);
    const note = el('p', { class: 'muted' });
    append(view, [el('h2', {}, 'Dead letters'), list, note, queue ? t : el('p', { class: 'muted' }, 'Pick a dead-letter queue.')]);
    let shownDepth = null;
    async function load() {
      try {
        const { total, messages } = await api('GET', `/api/dead-letters/${encodeURIComponent(queue)}`);
        note.textContent = `${queue}: ${total} message${total === 1 ? '' : 's'}${total > messages.length ? `, the first ${messages.length} shown` : ''}`;
        const path = (action) => `/api/dead-letters/${encodeURIComponent(queue)}/${action}`;
        syncRows(tbody, messages, (m) => m.key, (m) => el('tr', { dataset: { letter: m.key, task: m.taskId || '' } },
          el('td', { class: 'mono' }, m.taskId || '—'), el('td', {}, m.task || '—'), el('td', {}, m.reason || '—'), el('td', {}, m.queue || '—'),
          el('td', {}, m.worker || '—'), el('td', {}, fmtIso(m.deadLetteredAt)), el('td', { class: 'mono clip', title: m.argsrepr || m.body }, m.argsrepr || m.body),
          el('td', {},
            button('Requeue', async () => { if (await act('requeue', 'POST', path('requeue'), { key: m.key }, `Send this message back to ${m.queue || 'its queue'}?`)) void load(); }, { dataset: { action: 'requeue' } }),
            button('Delete', async () => { if (await act('delete', 'POST', path('delete'), { key: m.key }, 'Delete this message for good?')) void load(); }, { class: 'danger', dataset: { action: 'delete' } }))), () => undefined);
      } catch (error) {
        note.textContent = error.message;
      }
    }
    return (s) => {
      const queues = s.queues.filter((q) => q.deadLetterQueue);
      syncRows(list, queues, (q) => q.deadLetterQueue, (q) => el('a', { href: `#/dead-letters/${encodeURIComponent(q.deadLetterQueue)}` }), (a, q) => {
        a.textContent = `${q.deadLetterQueue} (${num(q.deadLetters)})`;
      });
      if (!queues.length) list.textContent = 'No queue of the definitions has a deadLetterQueue.';
      const depth = (queues.find((q) => q.deadLetterQueue === queue) || {}).deadLetters;
      if (queue && depth !== shownDepth) {
        shownDepth = depth;
        void load();
      }
    };
  };

  // ---- routing and the live stream -----------------------------------------------------------

  function route() {
    const [name, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
    const key = views[name] ? name : 'workers';
    const arg = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.dataset.view === (key === 'task' ? 'tasks' : key));
    clear(view);
    current = { update: views[key](arg) };
    if (state) current.update(state);
  }
  window.addEventListener('hashchange', route);

  function onState(next) {
    state = next;
    document.getElementById('broker').textContent = next.broker;
    const problems = document.getElementById('problems');
    problems.hidden = next.problems.length === 0;
    problems.textContent = next.problems.join('\n');
    if (current) current.update(next);
  }

  function connect() {
    const status = document.getElementById('status');
    const source = new EventSource('/api/stream');
    source.addEventListener('state', (event) => onState(JSON.parse(event.data)));
    source.addEventListener('open', () => {
      status.textContent = 'live';
      status.className = 'status live';
    });
    source.addEventListener('error', () => {
      status.textContent = 'reconnecting…';
      status.className = 'status';
    });
  }

  route();
  connect();
})();
