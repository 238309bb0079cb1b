// The supervisor's page: the floor arrives over the WebSocket (a whole snapshot after each
// change, VU levels every 200 ms per call, and the call center's info lines); actions go back
// as act() requests. The DOM is
// built once per agent and per waiting caller and then only updated, so keyboard focus and a
// chosen transfer target survive the updates.
/* global document, window, WebSocket, location, setInterval */

const ACTIONS = [
  ['listen', 'Listen', 'Listen to'],
  ['whisper', 'Whisper', 'Whisper on'],
  ['barge', 'Barge', 'Barge into'],
  ['takeover', 'Take over', 'Take over'],
  ['stop', 'Stop', 'Stop supervising'],
];

/** The last snapshot, and the server's clock minus ours (for durations). */
let floor = null;
let skew = 0;
let socket = null;
let nextRef = 1;
const pending = new Map(); // ref -> description of the action, for the result's message
const rows = new Map(); // agent name -> { tr, cells..., buttons }
const waitingItems = new Map(); // call id -> li
const queueBoxes = new Map(); // queue name -> { section, summary, list }

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

/** m:ss (or h:mm:ss) from milliseconds. */
function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const mm = String(Math.floor(s / 60) % 60).padStart(s >= 3600 ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A peak (0..32767) on a 60 dB scale, 0..1, as a VU meter shows it. */
function vu(peak) {
  if (peak <= 0) return 0;
  return Math.max(0, Math.min(1, (20 * Math.log10(peak / 32767) + 60) / 60));
}

function now() {
  return Date.now() + skew;
}

function say(text) {
  const list = $('status');
  list.prepend(el('li', {}, `${new Date().toLocaleTimeString()} ${text}`));
  while (list.children.length > 8) list.lastElementChild.remove();
}

function showError(text) {
  $('error').textContent = text;
}

// ------------------------------------------------------------------ actions

function act(request, description) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showError('not connected to the call center');
    return;
  }
  const ref = nextRef++;
  pending.set(ref, description);
  socket.send(JSON.stringify({ ref, ...request }));
}

function onResult(msg) {
  const what = pending.get(msg.ref) ?? 'action';
  pending.delete(msg.ref);
  if (msg.ok) {
    showError('');
    say(`${what}: done`);
  } else {
    showError(`${what}: ${msg.error}`);
  }
}

// ------------------------------------------------------------------ agents

function agentRow(a) {
  let row = rows.get(a.name);
  if (row) return row;
  const buttons = {};
  const actions = el('td', { class: 'actions' });
  for (const [action, label, verb] of ACTIONS) {
    const b = el('button', { type: 'button', 'data-action': action, 'aria-label': `${verb} ${a.name}'s call` }, label);
    b.addEventListener('click', () => act({ action, agent: a.name }, `${label} on ${a.name}'s call`));
    buttons[action] = b;
    actions.append(b);
  }
  const rxMeter = el('meter', { min: 0, max: 1, value: 0, 'aria-label': `level of what ${a.name}'s caller says` });
  const txMeter = el('meter', { min: 0, max: 1, value: 0, 'aria-label': `level of what ${a.name}'s caller hears` });
  row = {
    tr: el('tr', { 'data-agent': a.name }),
    state: el('td', { class: 'state' }),
    caller: el('td', { class: 'caller' }),
    duration: el('td', { class: 'duration' }),
    supervisor: el('td', { class: 'supervisor' }),
    levels: el('td', { class: 'levels' }, el('span', { class: 'meter' }, 'caller ', rxMeter), el('span', { class: 'meter' }, 'agent ', txMeter)),
    rxMeter,
    txMeter,
    buttons,
    last: null,
  };
  const name = el('th', { scope: 'row' }, a.name, el('span', { class: 'skills' }, a.skills.join(', ')));
  row.tr.append(name, row.state, row.caller, row.duration, row.supervisor, row.levels, actions);
  $('agents').append(row.tr);
  rows.set(a.name, row);
  return row;
}

function renderAgent(a) {
  const row = agentRow(a);
  const before = row.last;
  row.last = a;
  row.tr.dataset.state = a.state;
  row.state.textContent = a.state;
  row.supervisor.textContent = a.supervisor ? `${a.supervisor.mode} (${a.supervisor.name})` : '';
  row.caller.textContent = a.caller ? (a.direction === 'outbound' ? `to ${a.caller}` : a.caller) : '';
  row.tr.dataset.direction = a.direction ?? '';
  const talking = a.state === 'talking';
  for (const [action, b] of Object.entries(row.buttons)) {
    b.disabled = action === 'stop' ? !a.supervisor : !talking;
    b.setAttribute('aria-pressed', String(a.supervisor?.mode === action));
  }
  if (!talking) {
    row.rxMeter.value = 0;
    row.txMeter.value = 0;
  }
  if (before && (before.state !== a.state || before.caller !== a.caller)) {
    const how = a.direction === 'outbound' ? 'calling' : a.state === 'ringing' ? 'for' : 'with';
    say(`${a.name} ${a.state}${a.caller ? ` ${how} ${a.caller}` : ''}`);
  }
  // a supervisor joining is told by the server's info message; leaving is not
  if (before?.supervisor && !a.supervisor) say(`no supervisor on ${a.name}'s call`);
}

function onLevels(msg) {
  for (const row of rows.values()) {
    if (row.last?.callId !== msg.id) continue;
    row.rxMeter.value = vu(msg.rxPeak);
    row.txMeter.value = vu(msg.txPeak);
  }
}

// ------------------------------------------------------------------ queues

function queueBox(q) {
  let box = queueBoxes.get(q.name);
  if (box) return box;
  const title = el('h3', { id: `queue-${q.name}` }, q.name);
  box = { section: el('section', { class: 'queue', 'data-queue': q.name, 'aria-labelledby': title.id }), summary: el('p'), list: el('ol') };
  box.section.append(title, box.summary, box.list);
  $('queues').append(box.section);
  queueBoxes.set(q.name, box);
  return box;
}

function waitingItem(w, queue, agents) {
  let li = waitingItems.get(w.id);
  if (li) {
    suggest(li.select, queue, agents);
    return li;
  }
  const select = el('select', { 'aria-label': `Agent for ${w.caller}` });
  for (const a of agents) select.append(el('option', { value: a.name }, a.name));
  select.addEventListener('change', () => (select.dataset.chosen = 'true'));
  suggest(select, queue, agents);
  const button = el('button', { type: 'button', 'data-action': 'transfer' }, 'Transfer');
  button.setAttribute('aria-label', `Transfer ${w.caller} to the chosen agent`);
  button.addEventListener('click', () => act({ action: 'transfer', agent: select.value, call: w.id }, `Transfer of ${w.caller} to ${select.value}`));
  li = el('li', { 'data-call': w.id }, el('span', { class: 'who' }, w.caller), ' ', el('span', { class: 'waited' }), ' ', select, ' ', button);
  li.since = w.since;
  li.select = select;
  waitingItems.set(w.id, li);
  return li;
}

/** Until the supervisor picks one, the choice follows an idle agent with the queue's skill. */
function suggest(select, queue, agents) {
  if (select.dataset.chosen) return;
  const idle = agents.find((a) => a.state === 'idle' && a.skills.includes(queue));
  if (idle && select.value !== idle.name) select.value = idle.name;
}

function renderQueues(queues, agents) {
  const live = new Set();
  for (const q of queues) {
    const box = queueBox(q);
    const items = q.waiting.map((w) => {
      live.add(w.id);
      return waitingItem(w, q.name, agents);
    });
    // reorder only when the order changed, so a focused control keeps its focus
    const same = items.length === box.list.children.length && items.every((li, i) => box.list.children[i] === li);
    if (!same) box.list.replaceChildren(...items);
  }
  for (const [id, li] of waitingItems) {
    if (!live.has(id)) {
      li.remove();
      waitingItems.delete(id);
    }
  }
}

// ------------------------------------------------------------------ calling out

/** The agents in the call form's list, in the floor's order; the choice survives updates. */
function renderCallForm(agents) {
  const select = $('call-agent');
  const names = agents.map((a) => a.name);
  if ([...select.options].map((o) => o.value).join() !== names.join()) {
    const chosen = select.value;
    select.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
    if (names.includes(chosen)) select.value = chosen;
  }
  for (const o of select.options) {
    const a = agents.find((x) => x.name === o.value);
    o.textContent = a && a.state !== 'idle' ? `${a.name} (${a.state})` : o.value;
  }
}

function onCallSubmit(e) {
  e.preventDefault();
  const agent = $('call-agent').value;
  const number = $('call-number').value.trim();
  // the server checks everything again; this only spares a round trip for an empty field
  if (!agent || !number) {
    showError('choose an agent and type a number');
    return;
  }
  act({ action: 'call', agent, number }, `Call from ${agent} to ${number}`);
}

// ------------------------------------------------------------------ the floor

function renderFloor(f) {
  floor = f;
  skew = f.at - Date.now();
  for (const a of f.agents) renderAgent(a);
  renderCallForm(f.agents);
  renderQueues(f.queues, f.agents);
  const t = f.today;
  $('fig-calls').textContent = String(t.calls);
  $('fig-answered').textContent = String(t.answered);
  $('fig-abandoned').textContent = String(t.abandoned);
  $('fig-wait').textContent = t.calls ? `${(t.averageWaitMs / 1000).toFixed(1)} s` : '–';
  $('fig-mos').textContent = t.answered && t.averageMos ? t.averageMos.toFixed(2) : '–';
  $('fig-outbound').textContent = String(t.outbound);
  tick();
}

/** Durations and waits move every second without a message from the server. */
function tick() {
  if (!floor) return;
  const t = now();
  for (const row of rows.values()) {
    const a = row.last;
    row.duration.textContent = a && a.state !== 'offline' ? clock(t - a.since) : '';
  }
  for (const q of floor.queues) {
    const box = queueBoxes.get(q.name);
    const first = q.waiting[0];
    box.summary.textContent = first ? `${q.waiting.length} waiting, longest ${clock(t - first.since)}` : 'nobody waiting';
  }
  for (const li of waitingItems.values()) li.querySelector('.waited').textContent = `waiting ${clock(t - li.since)}`;
}

// ------------------------------------------------------------------ the connection

function connect() {
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket.addEventListener('open', () => {
    $('connection').textContent = 'live';
    document.body.dataset.connected = 'true';
  });
  socket.addEventListener('message', (e) => {
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    if (msg.type === 'floor') renderFloor(msg.floor);
    else if (msg.type === 'levels') onLevels(msg);
    else if (msg.type === 'result') onResult(msg);
    else if (msg.type === 'info') say(msg.text);
  });
  socket.addEventListener('close', () => {
    $('connection').textContent = 'disconnected, reconnecting…';
    document.body.dataset.connected = 'false';
    for (const what of pending.values()) showError(`${what}: no answer (disconnected)`);
    pending.clear();
    setTimeout(connect, 2000);
  });
}

window.addEventListener('DOMContentLoaded', () => {
  $('call-form').addEventListener('submit', onCallSubmit);
  connect();
  setInterval(tick, 1000);
});
