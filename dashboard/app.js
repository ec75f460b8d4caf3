// The dashboard: REST for history and health, one WebSocket for the live
// numbers and the tail. Every captured string is put on the page as text
// (textContent), never as HTML. When the agent has an API token, the page
// asks for it once and keeps it for this tab (sessionStorage): REST calls
// send it as Authorization, the WebSocket as the subprotocol bearer.<token>
// (a browser cannot set headers on a WebSocket). In Kubernetes a namespace
// selector joins the service one; the live tail's events carry no namespace,
// so the tail shows every namespace's exchanges.
'use strict';

// namespace: null for all; "" for what runs outside Kubernetes; else a Kubernetes namespace.
const state = { window: '5m', service: '', namespace: null, route: '', charts: {}, tail: [], ws: undefined };
const $ = (id) => document.getElementById(id);

function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (className) el.className = className;
  return el;
}

function table(el, headers, rows, onClick) {
  el.replaceChildren();
  const head = document.createElement('tr');
  for (const [h, num] of headers) head.append(text('th', h, num ? 'num' : ''));
  el.append(head);
  for (const row of rows) {
    const tr = document.createElement('tr');
    row.cells.forEach((c, i) => tr.append(text('td', c, (headers[i][1] ? 'num ' : '') + (row.classes?.[i] ?? ''))));
    if (onClick) {
      tr.className = 'clickable';
      tr.addEventListener('click', () => onClick(row));
    }
    el.append(tr);
  }
}

const ms = (s) => (s === null || s === undefined ? '–' : s < 0.001 ? `${(s * 1e6).toFixed(0)}µs` : s < 1 ? `${(s * 1000).toFixed(1)}ms` : `${s.toFixed(2)}s`);
const pct = (r) => `${(100 * r).toFixed(1)}%`;
const rate = (r) => (r >= 100 ? r.toFixed(0) : r.toFixed(2));

const TOKEN_KEY = 'http-tracer-api-token';
const apiToken = () => sessionStorage.getItem(TOKEN_KEY) || '';

function askToken(reason) {
  $('token-reason').textContent = reason;
  $('token-form').hidden = false;
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  $('token-form').hidden = true;
  // A socket refused for want of the token reconnects on its own; one still open is replaced.
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.close();
  refresh();
  refreshHealth().catch(console.error);
});

/** `answers`: statuses other than 2xx whose body is the answer (/api/health's 503 says what is wrong). */
async function request(path, init = {}, answers = []) {
  const token = apiToken();
  const headers = { ...(init.headers || {}), ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) askToken(token ? 'the agent refused this token' : 'the agent needs its API token');
  if (!res.ok && !answers.includes(res.status)) {
    const body = await res.json().catch(() => ({}));
    throw new Error(`${path}: ${res.status}${body.message ? ` ${body.message}` : ''}`);
  }
  return res.json();
}

const getJson = (path) => request(path);
const postJson = (path, body) => request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The filters chosen, as /api/metrics, /api/series and a live subscription take them. */
function filters() {
  const f = {};
  if (state.service) f.service = state.service;
  if (state.namespace !== null) f.namespace = state.namespace;
  if (state.route) f.route = state.route;
  return f;
}

function query(extra = {}) {
  return new URLSearchParams({ window: state.window, ...extra, ...filters() }).toString();
}

// In Kubernetes a service is its workload's name, which two namespaces may share.
const serviceName = (row) => (row.namespace ? `${row.service} (${row.namespace})` : row.service);

function routeRows(routes) {
  return routes.map((r) => ({
    route: r,
    cells: [serviceName(r), r.method, r.route, rate(r.requests_per_second), pct(r.error_rate), ms(r.latency_seconds.p50), ms(r.latency_seconds.p95), ms(r.latency_seconds.p99)],
    classes: [, , , , r.error_rate > 0.05 ? 'err' : ''],
  }));
}

const ROUTE_HEADERS = [['service'], ['method'], ['route'], ['req/s', 1], ['errors', 1], ['p50', 1], ['p95', 1], ['p99', 1]];

function showMetrics(m) {
  const t = m.totals;
  $('kpi-rate').textContent = rate(t.requests_per_second);
  $('kpi-errors').textContent = pct(t.error_rate);
  $('kpi-errors').className = t.error_rate > 0.05 ? 'err' : '';
  $('kpi-p50').textContent = ms(t.latency_seconds.p50);
  $('kpi-p95').textContent = ms(t.latency_seconds.p95);
  $('kpi-p99').textContent = ms(t.latency_seconds.p99);
  $('kpi-requests').textContent = String(t.requests);
  const pick = (row) => {
    state.route = state.route === row.route.route ? '' : row.route.route;
    refresh();
  };
  table($('top-routes'), ROUTE_HEADERS, routeRows(m.routes.slice(0, 10)), pick);
  const slow = [...m.routes].filter((r) => r.latency_seconds.p95 !== null).sort((a, b) => b.latency_seconds.p95 - a.latency_seconds.p95);
  table($('slow-routes'), ROUTE_HEADERS, routeRows(slow.slice(0, 10)), pick);
  addServices(m.services);
}

/** Services and namespaces seen so far join the selectors (option text, never HTML). */
function addServices(services) {
  const select = $('service');
  const known = new Set([...select.options].map((o) => o.value));
  const namespaces = $('namespace');
  const knownNamespaces = new Set([...namespaces.options].map((o) => o.value));
  for (const s of services) {
    const namespace = s.namespace || '';
    const value = JSON.stringify([s.service, namespace]);
    if (!known.has(value)) {
      const o = text('option', serviceName(s));
      o.value = value;
      select.append(o);
      known.add(value);
    }
    if (!knownNamespaces.has(namespace)) {
      const o = text('option', namespace || 'outside Kubernetes');
      o.value = namespace;
      namespaces.append(o);
      knownNamespaces.add(namespace);
    }
  }
  // Only "all" and "outside Kubernetes": nothing to choose.
  $('namespace-filter').hidden = ![...knownNamespaces].some((n) => n !== '*' && n !== '');
  showServiceOptions();
}

/** With a namespace chosen, the service selector offers that namespace's services only. */
function showServiceOptions() {
  for (const o of $('service').options) {
    o.hidden = o.value !== '' && state.namespace !== null && JSON.parse(o.value)[1] !== state.namespace;
  }
}

function chart(id, series, values) {
  const el = $(id);
  const width = Math.max(200, el.clientWidth);
  if (!state.charts[id]) {
    state.charts[id] = new uPlot({ width, height: 180, series: [{}, ...series], axes: [{ stroke: '#8a98a8' }, { stroke: '#8a98a8' }], legend: { show: true } }, values, el);
  } else {
    state.charts[id].setSize({ width, height: 180 });
    state.charts[id].setData(values);
  }
}

async function refreshSeries() {
  const s = await getJson(`/api/series?${query()}`);
  const t = s.points.map((p) => p.t);
  chart('chart-rate', [{ label: 'req/s', stroke: '#58a6ff' }], [t, s.points.map((p) => p.requests_per_second)]);
  chart('chart-errors', [{ label: 'error rate %', stroke: '#f85149' }], [t, s.points.map((p) => 100 * p.error_rate)]);
  const inMs = (v) => (v === null ? null : v * 1000);
  chart(
    'chart-latency',
    [{ label: 'p50', stroke: '#3fb950' }, { label: 'p95', stroke: '#d29922' }, { label: 'p99', stroke: '#f85149' }],
    [t, s.points.map((p) => inMs(p.p50)), s.points.map((p) => inMs(p.p95)), s.points.map((p) => inMs(p.p99))],
  );
}

async function refreshHealth() {
  const h = await request('/api/health', {}, [503]);
  const pill = $('status');
  pill.textContent = h.status;
  pill.className = `pill ${h.status}`;
  table($('health'), [['what'], ['value', 1]], [
    { cells: ['engine', h.status] },
    { cells: ['buffer', `${h.buffer_size} / ${h.buffer_capacity}`] },
    { cells: ['worker threads', String(h.worker_threads)] },
    { cells: ['probes', h.probes ? `${h.probes.attached} / ${h.probes.total}` : '–'] },
    { cells: ['lost (last minute)', `${h.lost.total} (${h.lost.last_minute})`] },
    ...(h.forwarding ? h.forwarding.targets : []).map((f) => ({
      cells: [`forwarding → ${f.name}`, `${f.samples_sent} sent, ${f.queue_records} waiting${f.failing_since ? `, failing: ${f.last_error}` : ''}`],
      classes: [, f.failing_since ? 'err' : ''],
    })),
    ...h.problems.map((p) => ({ cells: ['problem', p], classes: [, 'err'] })),
  ]);
  const p = await getJson('/api/processors');
  table($('processors'), [['processor'], ['events', 1], ['writes', 1], ['ns/event', 1]], p.processors.map((x) => ({
    cells: [x.name, String(x.events_in), String(x.writes), x.ns_per_event === null ? '–' : x.ns_per_event.toFixed(0)],
  })));
  await refreshAlerts();
}

const labelText = (labels) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ');
const since = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');
const value = (v) => (v === null || v === undefined ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : String(Number(v.toPrecision(3))));

function button(label, onClick) {
  const b = text('button', label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

async function incidentAction(id, action, body) {
  $('incident-error').textContent = '';
  try {
    await postJson(`/api/incidents/${encodeURIComponent(id)}/${action}`, { by: 'dashboard', ...body });
  } catch (e) {
    $('incident-error').textContent = String(e.message || e);
  }
  await refreshAlerts();
}

function showIncidents(incidents) {
  const el = $('incidents');
  el.replaceChildren();
  const head = document.createElement('tr');
  for (const h of ['severity', 'alert', 'labels', 'status', 'opened', 'value', '']) head.append(text('th', h));
  el.append(head);
  if (incidents.length === 0) {
    const tr = document.createElement('tr');
    const td = text('td', 'no open incidents', 'empty');
    td.colSpan = 7;
    tr.append(td);
    el.append(tr);
  }
  for (const i of incidents) {
    const tr = document.createElement('tr');
    tr.dataset.incident = i.id;
    const status = i.silenced_until && new Date(i.silenced_until) > new Date() ? `${i.status}, silenced until ${since(i.silenced_until)}` : i.status;
    tr.append(text('td', i.severity, i.severity), text('td', i.rule_name), text('td', labelText(i.labels)), text('td', status, 'status'), text('td', since(i.opened_at)), text('td', value(i.last_value), 'num'));
    const actions = document.createElement('td');
    if (i.status === 'open') actions.append(button('acknowledge', () => incidentAction(i.id, 'acknowledge', {})));
    actions.append(button('silence 1h', () => incidentAction(i.id, 'silence', { duration: '1h' })));
    actions.append(button('resolve', () => incidentAction(i.id, 'resolve', {})));
    tr.append(actions);
    el.append(tr);
  }
}

// Anomaly rules: value, baseline and band per group, kept from each refresh (the API gives the current band).
const anomalyHistory = new Map();

function showAnomalies(rules) {
  const now = Date.now() / 1000;
  for (const rule of rules) {
    for (const g of rule.groups || []) {
      if (!g.baseline) continue;
      const id = `anomaly-${rule.id}-${labelText(g.labels)}`.replace(/[^A-Za-z0-9_-]/g, '_');
      let h = anomalyHistory.get(id);
      if (!h) {
        const box = document.createElement('div');
        box.className = 'chart';
        box.append(text('h2', `${rule.name} ${labelText(g.labels)}: value and band`));
        const plot = document.createElement('div');
        plot.id = id;
        box.append(plot);
        $('anomaly-charts').append(box);
        h = { t: [], value: [], mean: [], lower: [], upper: [] };
        anomalyHistory.set(id, h);
      }
      h.t.push(now);
      h.value.push(g.value);
      h.mean.push(g.baseline.mean);
      h.lower.push(g.baseline.lower);
      h.upper.push(g.baseline.upper);
      for (const a of Object.values(h)) if (a.length > 360) a.shift();
      chart(id, [{ label: 'value', stroke: '#58a6ff' }, { label: 'baseline', stroke: '#8a98a8' }, { label: 'lower', stroke: '#3fb950', dash: [4, 4] }, { label: 'upper', stroke: '#f85149', dash: [4, 4] }], [h.t, h.value, h.mean, h.lower, h.upper]);
    }
  }
}

async function refreshAlerts() {
  const a = await getJson('/api/alerts');
  const firing = a.active.filter((x) => x.state === 'firing').length;
  $('alert-count').textContent = `${firing} firing`;
  $('alert-count').className = `pill ${firing ? 'firing' : ''}`;
  table(
    $('active-alerts'),
    [['severity'], ['alert'], ['labels'], ['state'], ['since'], ['value', 1], ['threshold', 1], ['message']],
    a.active.length === 0
      ? [{ cells: ['', 'no active alerts', '', '', '', '', '', ''], classes: [, 'empty'] }]
      : a.active.map((x) => ({
          cells: [x.severity, x.name, labelText(x.labels), x.state, since(x.fired_at || x.active_since), value(x.value), `${x.condition} ${value(x.threshold)}`, x.message],
          classes: [x.severity, , , x.state],
        })),
  );
  const incidents = await getJson('/api/incidents?status=unresolved&limit=50');
  showIncidents(incidents.incidents);
  showAnomalies(a.alerts.filter((r) => r.alert_type === 'anomaly'));
}

function showTail() {
  const filter = $('tail-filter').value.toLowerCase();
  const status = $('tail-status').value;
  const rows = state.tail.filter((e) => {
    if (status === 'aborted' ? !e.aborted : status && String(e.status)[0] !== status) return false;
    return !filter || `${e.process} ${e.method} ${e.target} ${e.peer}`.toLowerCase().includes(filter);
  });
  table($('tail'), [['time'], ['process'], ['side'], ['method'], ['target'], ['status', 1], ['duration', 1]], rows.slice(0, 50).map((e) => ({
    cells: [e.time.slice(11, 23), `${e.pid}/${e.process}`, e.side, e.method, e.target, e.aborted ? 'aborted' : String(e.status), ms(e.duration_ms / 1000)],
    classes: [, , , , , e.error_type ? 'err' : ''],
  })));
}

function subscribe() {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({ type: 'subscribe', query_id: 'overview', window: state.window, ...filters() }));
}

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/dashboard-${Math.random().toString(36).slice(2, 10)}`;
  const token = apiToken();
  let ws;
  try {
    ws = token ? new WebSocket(url, [`bearer.${token}`]) : new WebSocket(url);
  } catch (e) {
    // A subprotocol must be an HTTP token: letters, digits and !#$%&'*+-.^_`|~.
    askToken('this token has characters a browser cannot send over a WebSocket');
    setTimeout(connect, 2000);
    return;
  }
  state.ws = ws;
  let opened = false;
  ws.addEventListener('open', () => {
    opened = true;
    subscribe();
    ws.send(JSON.stringify({ type: 'subscribe', query_id: 'tail', stream: 'exchanges' }));
  });
  ws.addEventListener('message', (event) => {
    const m = JSON.parse(event.data);
    if (m.type === 'realtime_update') showMetrics(m.data);
    else if (m.type === 'alert_triggered' || m.type === 'alert_resolved') {
      const panel = document.querySelector('.alerts-panel');
      panel.classList.remove('flash');
      void panel.offsetWidth; // restart the animation
      panel.classList.add('flash');
      refreshAlerts().catch(console.error);
    }
    else if (m.type === 'new_event') {
      state.tail.unshift(m.data);
      state.tail.length = Math.min(state.tail.length, 200);
    }
  });
  ws.addEventListener('close', () => {
    $('status').textContent = 'disconnected';
    $('status').className = 'pill down';
    // Refused before opening while the agent answers (/api/health needs no token): the token is missing or wrong.
    if (!opened) {
      fetch('/api/health')
        .then((res) => {
          if (res.ok) askToken(token ? 'the agent refused this token for live updates' : 'live updates need the agent’s API token');
        })
        .catch(() => undefined);
    }
    setTimeout(connect, 2000);
  });
}

async function refresh() {
  subscribe();
  try {
    showMetrics(await getJson(`/api/metrics?${query({ limit: '50' })}`));
    await refreshSeries();
  } catch (e) {
    console.error(e);
  }
}

for (const b of document.querySelectorAll('#windows button')) {
  b.addEventListener('click', () => {
    state.window = b.dataset.window;
    for (const other of document.querySelectorAll('#windows button')) other.setAttribute('aria-pressed', String(other === b));
    refresh();
  });
}
$('service').addEventListener('change', (e) => {
  const [service, namespace] = e.target.value ? JSON.parse(e.target.value) : ['', null];
  state.service = service;
  // A service is one namespace's: choosing it chooses its namespace too (when there are namespaces to choose).
  if (service && !$('namespace-filter').hidden) {
    state.namespace = namespace;
    $('namespace').value = namespace;
    showServiceOptions();
  }
  state.route = '';
  refresh();
});
$('namespace').addEventListener('change', (e) => {
  state.namespace = e.target.value === '*' ? null : e.target.value;
  state.service = '';
  state.route = '';
  $('service').value = '';
  showServiceOptions();
  refresh();
});
$('tail-filter').addEventListener('input', showTail);
$('tail-status').addEventListener('change', showTail);

// Charts follow their containers' width (a phone turned, a window resized).
let resizeTimer;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [id, plot] of Object.entries(state.charts)) plot.setSize({ width: Math.max(200, $(id).clientWidth), height: 180 });
  }, 100);
});

connect();
refresh();
refreshHealth().catch(console.error);
setInterval(() => refreshSeries().catch(console.error), 5000);
setInterval(() => refreshHealth().catch(console.error), 5000);
setInterval(showTail, 1000);
