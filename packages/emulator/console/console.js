// @ts-check
// The emulator's web console: plain DOM, no framework, no build step, nothing from another origin.
// State arrives over one Server-Sent Events stream (/api/events): a `stats` snapshot each second
// (counters, connections, the rate chart) and the emulator's events (the log, and prompt refreshes
// of connections and devices). Actions are the admin API's routes.

const token = new URLSearchParams(location.search).get('token');
const headers = token ? { authorization: `Bearer ${token}` } : {};

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * Calls the admin API; resolves with the JSON answer, rejects with its error message.
 * @param {string} method @param {string} path @param {unknown} [body]
 */
async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { ...headers, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${json.error?.field ? `${json.error.field}: ` : ''}${json.error?.message ?? res.status}`);
  return json;
}

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} [children] */
function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// --- ledger ------------------------------------------------------------------------------------

const COUNTERS = [
  ['downstreamDelivered', 'downstream delivered'], ['downstreamUnique', 'unique'], ['downstreamDuplicates', 'duplicates'],
  ['nackedTotal', 'NACKs'], ['stanzaErrors', 'stanza errors'], ['upstreamInjected', 'upstream injected'],
  ['upstreamSent', 'upstream sent'], ['upstreamAcked', 'upstream ACKed'], ['upstreamUnacked', 'upstream unACKed'],
  ['upstreamDropped', 'upstream dropped'], ['receiptsSent', 'receipts sent'], ['receiptsAcked', 'receipts ACKed'],
];
const ledger = $('ledger');
for (const [key, label] of COUNTERS) ledger.append(el('div', {}, [el('dt', {}, [label]), el('dd', { id: `counter-${key}` }, ['0'])]));

/** @param {any} t */
const nackTotal = (t) => Object.values(t.nacked).reduce((a, b) => a + Number(b), 0);

/** @param {any} t the ledger totals */
function showLedger(t, queued) {
  for (const [key] of COUNTERS) $(`counter-${key}`).textContent = String(key === 'nackedTotal' ? nackTotal(t) : t[key] ?? 0);
  const lost = $('lost');
  const codes = Object.entries(t.nacked).map(([c, n]) => `${c} ${n}`).join(', ');
  $('counter-nackedTotal').title = codes;
  if (t.upstreamDropped > 0) {
    lost.className = 'badge bad';
    lost.textContent = `${t.upstreamDropped} upstream dropped (queue full)`;
  } else if (t.upstreamUnacked > 0) {
    lost.className = 'badge warn';
    lost.textContent = `${t.upstreamUnacked} upstream awaiting ACK${queued > 0 ? ` (${queued} queued)` : ''}`;
  } else {
    lost.className = 'badge ok';
    lost.textContent = '✓ nothing lost';
  }
  lost.title = 'every upstream message injected was ACKed by the app server; downstream: every ACKed message is in the ledger';
}

// --- rate chart --------------------------------------------------------------------------------

const SERIES = [['downstream', '#2f6fb3'], ['upstream', '#1c7c3c'], ['ACK', '#8a939c'], ['NACK', '#b3261e']];
/** @type {number[][]} one array per series, newest last, at most 60 points */
const points = SERIES.map(() => []);
/** @type {any} */ let previous;
for (const [name, color] of SERIES) {
  // Set through the CSSOM: the page's Content-Security-Policy allows no inline style attributes.
  const swatch = el('i');
  swatch.style.background = color;
  $('legend').append(el('span', {}, [swatch, name]));
}

/** @param {any} t */
function addRates(t) {
  if (previous !== undefined) {
    const nacks = nackTotal(t) - nackTotal(previous);
    const acks = t.downstreamDelivered - previous.downstreamDelivered;
    const values = [acks + nacks, t.upstreamSent - previous.upstreamSent, acks, nacks];
    values.forEach((v, i) => {
      points[i].push(Math.max(0, v));
      if (points[i].length > 60) points[i].shift();
    });
  }
  previous = t;
  drawChart();
}

function drawChart() {
  const canvas = /** @type {HTMLCanvasElement} */ ($('rate'));
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1, ...points.flat());
  ctx.strokeStyle = '#d9dcdf';
  ctx.fillStyle = '#68707a';
  ctx.font = '11px sans-serif';
  for (const f of [0, 0.5, 1]) {
    const y = h - 14 - f * (h - 24);
    ctx.beginPath();
    ctx.moveTo(40, y);
    ctx.lineTo(w, y);
    ctx.stroke();
    ctx.fillText(String(Math.round(f * max)), 2, y + 4);
  }
  SERIES.forEach(([, color], i) => {
    const p = points[i];
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    p.forEach((v, j) => {
      const x = 40 + ((w - 44) * (j + 60 - p.length)) / 59;
      const y = h - 14 - (v / max) * (h - 24);
      if (j === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
  ctx.fillText('last 60 s', w - 52, h - 2);
}

// --- connections -------------------------------------------------------------------------------

/** @param {any[]} list */
function showConnections(list) {
  $('connection-count').textContent = String(list.length);
  const body = $('connections');
  body.replaceChildren(...list.map((c) => {
    const drain = el('button', { type: 'button', 'data-drain': String(c.id) }, ['Drain']);
    if (c.state !== 'ready') drain.setAttribute('disabled', '');
    const faults = Object.entries(c.faults).map(([k, v]) => `${k}=${v}`).join(' ') || '—';
    return el('tr', { 'data-id': String(c.id) }, [
      el('td', {}, [String(c.id)]), el('td', {}, [c.senderId ?? '—']), el('td', { class: `state-${c.state}` }, [c.state]),
      el('td', {}, [String(c.pendingUpstream)]), el('td', {}, [String(c.owedAnswers)]), el('td', { title: faults }, [faults]), el('td', {}, [drain]),
    ]);
  }));
}
$('connections').addEventListener('click', (e) => {
  const id = /** @type {HTMLElement} */ (e.target).getAttribute('data-drain');
  if (id !== null) api('POST', '/api/drain', { connectionId: Number(id) }).catch((err) => logLine('error', String(err.message)));
});
let refreshTimer = 0;
/** A connection changed: refresh the table now (at most every 200 ms) rather than at the next tick. */
function refreshConnectionsSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = 0;
    api('GET', '/api/connections').then(showConnections, () => undefined);
  }, 200);
}

// --- faults ------------------------------------------------------------------------------------

const FAULTS = [
  ['serviceUnavailableRate', 'SERVICE_UNAVAILABLE rate', 0.2, 0.01],
  ['internalErrorRate', 'INTERNAL_SERVER_ERROR rate', 0.2, 0.01],
  ['ackDelayMs', 'ACK delay (ms)', 200, 1],
  ['cutProbability', 'cut probability / message', 0.01, 0.001],
  ['cutAfterStanzas', 'cut after N messages', 100, 1],
  ['stallMs', 'stall (ms)', 1000, 1],
  ['tinyWrites', 'tiny writes (bytes)', 7, 1],
];
/** @type {Record<string, any>} */ let currentFaults = {};
for (const [key, label, value, step] of FAULTS) {
  const box = el('input', { type: 'checkbox', id: `fault-${key}`, 'data-fault': String(key) });
  const input = el('input', { type: 'number', id: `fault-${key}-value`, value: String(value), step: String(step), min: '0' });
  $('faults').append(el('label', {}, [box, ` ${label}`]), input);
}
// Changes the user made and the server has not confirmed yet: the form shows the user's intent
// until the answer to the latest change arrives (an older answer, or a snapshot, would flip it back).
let faultEdits = 0;
let faultEditsAnswered = 0;
$('faults').addEventListener('change', () => {
  const edit = ++faultEdits;
  /** @type {Record<string, number>} */
  const faults = {};
  for (const [key] of FAULTS) {
    const on = /** @type {HTMLInputElement} */ ($(`fault-${key}`)).checked;
    if (on) faults[String(key)] = Number(/** @type {HTMLInputElement} */ ($(`fault-${key}-value`)).value);
  }
  api('PUT', '/api/faults', { faults }).then((r) => {
    faultEditsAnswered = Math.max(faultEditsAnswered, edit);
    if (edit === faultEdits) showFaults(r.faults);
  }, (err) => {
    faultEditsAnswered = Math.max(faultEditsAnswered, edit);
    logLine('error', String(err.message));
  });
});
/** @param {Record<string, any>} faults */
function showFaults(faults) {
  if (faultEditsAnswered < faultEdits) return;
  currentFaults = faults;
  for (const [key] of FAULTS) {
    const box = /** @type {HTMLInputElement} */ ($(`fault-${key}`));
    const v = faults[String(key)];
    box.checked = v !== undefined && v !== false;
    if (typeof v === 'number') /** @type {HTMLInputElement} */ ($(`fault-${key}-value`)).value = String(v);
  }
}

// --- devices and inject ------------------------------------------------------------------------

/** @param {any[]} list */
function showDevices(list) {
  $('device-count').textContent = String(list.length);
  $('devices').replaceChildren(...list.slice(0, 500).map((d) => el('tr', { 'data-token': d.token }, [
    el('td', { title: d.token }, [d.token]), el('td', {}, [d.senderId ?? 'any']), el('td', {}, [d.state]), el('td', {}, [String(d.delivered)]),
  ])));
  $('device-tokens').replaceChildren(...list.slice(0, 500).map((d) => el('option', { value: d.token })));
}
const refreshDevices = () => api('GET', '/api/devices').then(showDevices, () => undefined);

$('add-device').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = /** @type {HTMLInputElement} */ ($('device-token')).value.trim();
  const state = /** @type {HTMLSelectElement} */ ($('device-state')).value;
  const out = $('device-result');
  api('POST', '/api/devices', { token, state }).then(() => {
    out.className = '';
    out.textContent = `${token}: ${state}`;
    void refreshDevices();
  }, (err) => {
    out.className = 'error';
    out.textContent = err.message;
  });
});

$('inject').addEventListener('submit', (e) => {
  e.preventDefault();
  const out = $('inject-result');
  /** @type {Record<string, unknown>} */
  const body = {};
  // Empty until the first snapshot arrives: the API then takes the first sender.
  const senderId = /** @type {HTMLSelectElement} */ ($('inject-sender')).value;
  if (senderId) body.senderId = senderId;
  const from = /** @type {HTMLInputElement} */ ($('inject-from')).value.trim();
  if (from) body.from = from;
  const id = /** @type {HTMLInputElement} */ ($('inject-id')).value.trim();
  if (id) body.message_id = id;
  try {
    body.data = JSON.parse(/** @type {HTMLTextAreaElement} */ ($('inject-data')).value || '{}');
  } catch {
    out.className = 'error';
    out.textContent = 'data is not valid JSON';
    return;
  }
  api('POST', '/api/upstream', body).then((r) => {
    out.className = '';
    out.textContent = `queued ${r.message_id}`;
  }, (err) => {
    out.className = 'error';
    out.textContent = err.message;
  });
});

$('drain-all').addEventListener('click', () => api('POST', '/api/drain', {}).catch((err) => logLine('error', String(err.message))));
$('reset').addEventListener('click', () => {
  previous = undefined;
  for (const p of points) p.length = 0;
  api('POST', '/api/reset', {}).then(() => refreshDevices(), (err) => logLine('error', String(err.message)));
});

// --- events ------------------------------------------------------------------------------------

const MAX_LOG = 300;
/** @param {string} type @param {string} text */
function logLine(type, text) {
  if (/** @type {HTMLInputElement} */ ($('events-pause')).checked) return;
  const filter = /** @type {HTMLInputElement} */ ($('events-filter')).value.trim();
  if (filter && !type.includes(filter) && !text.includes(filter)) return;
  const list = $('events');
  list.prepend(el('li', { class: type }, [el('b', {}, [type]), ' ', text]));
  while (list.childElementCount > MAX_LOG) list.lastElementChild?.remove();
}

// --- the stream --------------------------------------------------------------------------------

let ticks = 0;
let first = true;
function connect() {
  const source = new EventSource(`/api/events${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  const badge = $('stream');
  source.onopen = () => {
    badge.className = 'badge ok';
    badge.textContent = 'live';
  };
  source.onerror = () => {
    badge.className = 'badge off';
    badge.textContent = 'reconnecting';
  };
  source.addEventListener('stats', (e) => {
    const s = JSON.parse(/** @type {MessageEvent} */ (e).data);
    $('where').textContent = `${s.host}:${s.port} · seed ${s.seed} · ${s.state}`;
    if (first) {
      first = false;
      $('inject-sender').replaceChildren(...s.senders.map((id) => el('option', { value: id }, [id])));
      void refreshDevices();
    }
    showLedger(s.totals, s.queuedUpstream);
    addRates(s.totals);
    showConnections(s.connections);
    if (JSON.stringify(s.faults) !== JSON.stringify(currentFaults)) showFaults(s.faults);
    if (++ticks % 5 === 0) void refreshDevices();
  });
  source.addEventListener('dropped', (e) => {
    $('events-dropped').textContent = `${JSON.parse(/** @type {MessageEvent} */ (e).data).dropped} events skipped (over the stream's rate)`;
  });
  source.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    const { type, ts, ...rest } = ev;
    logLine(type, JSON.stringify(rest));
    if (type === 'connection' || type === 'bind' || type === 'close' || type === 'drain' || type === 'auth') refreshConnectionsSoon();
    if (type === 'device' || type === 'reset') void refreshDevices();
    if (type === 'faults' && ev.connectionId === undefined) showFaults(ev.faults);
  };
}
connect();
