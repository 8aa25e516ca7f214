// The simulator's web panel: draws the base, the analog phone, the DECT
// devices, the simulated callers, a timeline, the line and a recording, and
// sends every action to basesim's control API (docs/simulator.md).
'use strict';
const API = new URL('../v1/', location.href).pathname; // the control API, beside the panel
const SELF = new URL('./', location.href).pathname;    // the panel's own feeds
// Candidate event streams (Server-Sent Events) of the control API, tried in
// order; without one the timeline is derived from the polled state.
const EVENT_STREAMS = ['events/stream', 'events'];
const POLL_MS = 400, LINE_MS = 250, TIMELINE_MAX = 500;

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === 'class' ? (e.className = v) : e.setAttribute(k, v);
  for (const c of kids) e.append(c);
  return e;
};

// The API's field names are moving from CamelCase to snake_case: every
// answer is read with snake_case keys whichever it sends.
function snakeKey(k) {
  return k.replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
function norm(v) {
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[/[A-Z]/.test(k) ? snakeKey(k) : k] = norm(x);
    return o;
  }
  return v;
}

async function request(method, path, body) {
  const opt = { method, headers: {} };
  if (body !== undefined) { opt.body = typeof body === 'string' ? body : JSON.stringify(body); opt.headers['Content-Type'] = 'application/json'; }
  const res = await fetch(path.startsWith('/') ? path : API + path, opt);
  const text = await res.text();
  let v = text;
  try { v = JSON.parse(text); } catch (_) { /* not JSON: keep the text */ }
  if (!res.ok) {
    const e = new Error(`${method} ${path}: ${res.status} ${v && v.error ? v.error : text}`.trim());
    e.status = res.status;
    throw e;
  }
  return norm(v);
}

function toast(msg, ok) {
  const t = $('#toast');
  t.textContent = msg; t.className = 'toast ' + (ok ? 'ok' : 'err');
}

// act sends one control-API action, shows its outcome and refreshes.
async function act(method, path, body) {
  try {
    const v = await request(method, path, body);
    toast(`${method} ${path}: ok`, true);
    poll();
    return v;
  } catch (e) {
    toast(e.message, false);
    addEvent('base', 'error: ' + e.message);
    return null;
  }
}

// ---- timeline ---------------------------------------------------------------
const timeline = { derived: true, events: [] };
function addEvent(src, text, at) {
  const t = at ? new Date(at) : new Date();
  const li = el('li', { 'data-src': src }, el('span', {}, t.toISOString().slice(11, 23)),
    el('span', { class: 'src ' + src }, src), el('span', {}, text));
  li.hidden = !$('#tl-' + src)?.checked;
  $('#timeline').prepend(li);
  while ($('#timeline').children.length > TIMELINE_MAX) $('#timeline').lastChild.remove();
}
const prev = {};
// change records a derived event when a polled value changes.
function change(src, key, value, text) {
  const v = JSON.stringify(value);
  if (key in prev && prev[key] !== v && timeline.derived) addEvent(src, text ?? `${key}: ${value}`);
  prev[key] = v;
}
async function startEvents() {
  const note = $('#events-source');
  for (const path of EVENT_STREAMS) {
    let res;
    try { res = await fetch(API + path, { headers: { Accept: 'text/event-stream' } }); } catch (_) { continue; }
    if (!res.ok || !(res.headers.get('Content-Type') || '').startsWith('text/event-stream') || !res.body) { res.body?.cancel(); continue; }
    timeline.derived = false;
    note.textContent = 'events: ' + API + path + ' (timestamps of the simulator)'; note.className = 'note';
    readSSE(res.body, showStreamEvent).finally(() => {
      timeline.derived = true;
      note.textContent = 'the event stream ended: the timeline is derived from the polled state'; note.className = 'note warn';
    });
    return;
  }
  note.textContent = `no event stream in this basesim's API (tried ${EVENT_STREAMS.map(p => API + p).join(', ')}): the timeline is derived from the polled state, to within ${POLL_MS} ms`;
  note.className = 'note warn';
}
// readSSE parses a text/event-stream body, calling onEvent(data, event name).
async function readSSE(body, onEvent) {
  const rd = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '', data = [], name = '';
  for (;;) {
    const { value, done } = await rd.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const ln = buf.slice(0, i).replace(/\r$/, ''); buf = buf.slice(i + 1);
      if (ln === '') { if (data.length) onEvent(data.join('\n'), name); data = []; name = ''; continue; }
      if (ln.startsWith(':')) continue;
      const c = ln.indexOf(':'), f = c < 0 ? ln : ln.slice(0, c), v = c < 0 ? '' : ln.slice(c + 1).replace(/^ /, '');
      if (f === 'data') data.push(v); else if (f === 'event') name = v;
    }
  }
}
const SOURCES = { line: 'line', phone: 'line', port: 'line', dect: 'dect', radio: 'dect', sip: 'sip', pbx: 'sip', mqtt: 'mqtt', cloud: 'mqtt', broker: 'mqtt', base: 'base' };
function showStreamEvent(data, name) {
  let v;
  try { v = norm(JSON.parse(data)); } catch (_) { addEvent('base', (name ? name + ' ' : '') + data); return; }
  const at = v.time || v.at || v.ts || v.timestamp;
  const src = SOURCES[String(v.source || v.src || '').toLowerCase()] || 'base';
  const detail = v.detail && typeof v.detail === 'object' ? Object.entries(v.detail).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`).join(' ') : '';
  const rest = Object.entries(v).filter(([k]) => !['seq', 'time', 'at', 'ts', 'timestamp', 'source', 'src', 'kind', 'subject', 'detail'].includes(k))
    .map(([k, x]) => `${k}=${JSON.stringify(x)}`).join(' ');
  const what = `${detail} ${rest}`.trim();
  addEvent(src, `${v.kind || name || 'event'}${v.subject ? ' ' + v.subject : ''}${v.source && SOURCES[v.source] !== v.source ? ' (' + v.source + ')' : ''}${what ? ': ' + what : ''}`, at);
}

// ---- the base ---------------------------------------------------------------
const LED_COLOURS = { power: '#66bb6a', cloud: '#42a5f5', line: '#66bb6a', registration: '#ffb300', fault: '#ef5350' };
function renderBase(b) {
  $('#base-id').textContent = b.base || '';
  const leds = $('#leds');
  for (const [name, state] of Object.entries(b.leds || {}).sort()) {
    let l = leds.querySelector(`[data-led="${name}"]`);
    if (!l) {
      l = el('div', { class: 'led', 'data-led': name, id: 'led-' + name }, el('i'), name);
      l.style.setProperty('--c', LED_COLOURS[name] || '#ccc');
      leds.append(l);
    }
    l.dataset.state = state; l.title = `${name}: ${state}`;
    change('base', 'led.' + name, state, `LED ${name}: ${state}`);
  }
  const st = b.status || {};
  const kv = { mqtt: b.mqtt, pbx: b.pbx, sip: b.sip };
  if (b.status) {
    Object.assign(kv, { 'applied version': st.applied_version, cloud: st.cloud_connected ? 'connected' : 'not connected',
      radio: st.radio_ready ? 'ready' : 'not ready', 'registration open': st.registration_open, uptime: st.uptime });
    for (const r of st.registrations || []) kv['SIP ' + r.extension] = r.state;
    for (const l of st.lines || []) kv[`line ${l.device}`] = `${l.extension || '(no extension)'}: ${l.state}`;
    change('mqtt', 'applied', st.applied_version, `configuration version ${st.applied_version} applied`);
    change('mqtt', 'cloud', st.cloud_connected, st.cloud_connected ? 'cloud connected' : 'cloud disconnected');
    change('dect', 'regopen', st.registration_open, st.registration_open ? 'registration window open' : 'registration window closed');
    for (const r of st.registrations || []) change('sip', 'reg.' + r.extension, r.state, `${r.extension} ${r.state}`);
  }
  if (b.virtual_board) Object.assign(kv, { 'virtual board': b.virtual_board.socket, 'daemon connected': b.virtual_board.daemon_connected });
  fillKV($('#base-status'), kv);
}
function fillKV(dl, kv) {
  dl.replaceChildren(...Object.entries(kv).filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) =>
    [el('dt', {}, k), el('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))]));
}

// ---- the analog phone -------------------------------------------------------
let phoneState = {};
function renderPhone(p) {
  const ph = p.phone || {};
  phoneState = ph;
  const box = $('#phone');
  box.classList.toggle('offhook', ph.hook === 'off-hook');
  box.classList.toggle('ringing', !!ph.ringing);
  box.dataset.hook = ph.hook || ''; box.dataset.rings = ph.rings || 0;
  $('#phone-lamp').classList.toggle('on', !!ph.message_waiting);
  const c = ph.caller_id, d = $('#phone-display');
  const name = c ? (c.name || (c.name_private ? 'PRIVATE' : c.name_out_of_area ? 'OUT OF AREA' : '')) : '';
  const number = c ? (c.number || (c.private ? 'PRIVATE' : c.out_of_area ? 'OUT OF AREA' : '')) : '';
  $('.cid-name', d).textContent = c ? (c.call_waiting ? 'CW ' : '') + name : '';
  $('.cid-number', d).textContent = number;
  const dt = c && c.date;
  $('.cid-date', d).textContent = dt && dt.month ? `${String(dt.month).padStart(2, '0')}/${String(dt.day).padStart(2, '0')} ${String(dt.hour).padStart(2, '0')}:${String(dt.minute).padStart(2, '0')}` : '';
  $('.hearing', d).textContent = ph.hook === 'off-hook' ? 'hears: ' + (ph.hearing || '') : ph.ringing ? 'RINGING' : '';
  $('.mwi-text', d).textContent = ph.message_waiting ? 'MESSAGE WAITING' : '';
  const daemonLine = typeof p.line === 'string' ? p.line : p.daemon ? p.daemon.state : undefined;
  if (p.line && typeof p.line === 'object') fillKV($('#line-measure'), p.line);
  fillKV($('#phone-state'), { hook: ph.hook, 'line (daemon)': daemonLine, ringing: ph.ringing, 'valid rings': ph.rings, hearing: ph.hearing,
    sit: ph.sit, busy: ph.busy, recording: ph.recording, 'CAS acks': ph.cas_acks, 'CID errors': ph.cid_errors, 'last CID error': ph.last_cid_error });
  change('line', 'hook', ph.hook, `phone ${ph.hook}`);
  change('line', 'ringing', !!ph.ringing, ph.ringing ? 'ring on' : 'ring off');
  change('line', 'hearing', ph.hearing, `phone hears ${ph.hearing}`);
  change('line', 'cid', c ? c.received : null, c ? `caller ID ${c.format || ''}: ${name} ${number}${c.call_waiting ? ' (call waiting)' : ''}` : 'caller ID cleared');
  change('line', 'lamp', !!ph.message_waiting, ph.message_waiting ? 'message-waiting lamp on' : 'message-waiting lamp off');
  change('line', 'linestate', daemonLine, `line state ${daemonLine}`);
}
function buildKeypad(box, onKey) {
  for (const k of '123456789*0#') box.append(Object.assign(el('button', { 'data-key': k }, k), { onclick: () => onKey(k) }));
}
function buildRotary() {
  const svg = $('#rotary'), ns = 'http://www.w3.org/2000/svg';
  const mk = (t, a) => { const e = document.createElementNS(ns, t); for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); return e; };
  svg.append(mk('circle', { r: 96, fill: '#d9d2c2', stroke: '#555' }), mk('circle', { r: 34, fill: '#c9c0ad' }));
  '1234567890'.split('').forEach((dg, i) => {
    // As on a real dial: 1 at two o'clock, on round anticlockwise to 0
    // just past the finger stop at four o'clock.
    const a = (30 + i * 30) * Math.PI / 180, x = 70 * Math.cos(a), y = -70 * Math.sin(a);
    const g = mk('g', { 'data-digit': dg });
    g.append(mk('circle', { class: 'hole', cx: x, cy: y, r: 15 }), Object.assign(mk('text', { x, y }), { textContent: dg }));
    g.addEventListener('click', () => act('POST', 'ports/1/dial', { digits: dg, mode: 'pulse' }));
    svg.append(g);
  });
  svg.append(mk('path', { d: 'M 49 34 L 78 54', stroke: '#333', 'stroke-width': 5 }));
}

// ---- the line: level and spectrum ------------------------------------------
const line = { rings: [], offset: 0, ok: false };
async function pollLine() {
  try {
    const v = await request('GET', SELF + 'line?ms=512');
    line.rings = v.rings || []; line.offset = Date.parse(v.now) - Date.now(); line.ok = true;
    const x = Plot.decodeB64PCM(v.samples);
    const lv = Plot.levelDbm0(x);
    $('#level-text').textContent = isFinite(lv) ? lv.toFixed(1) + ' dBm0' : 'silence';
    $('#level-bar').style.width = (isFinite(lv) ? Math.max(0, Math.min(100, (lv + 60) / 63 * 100)) : 0) + '%';
    const pk = Plot.drawSpectrum($('#spectrum'), x, v.rate);
    const sp = $('#spectrum-peak');
    sp.textContent = pk ? `peak ${Math.round(pk.hz)} Hz` : 'no tone';
    sp.dataset.hz = pk ? Math.round(pk.hz) : '';
    fillKV($('#line-rings'), { 'ring bursts seen': line.rings.filter(r => r.valid).length,
      'last ring': line.rings.length ? new Date(line.rings[line.rings.length - 1].start).toISOString().slice(11, 23) : '' });
  } catch (e) {
    line.ok = false;
    $('#spectrum-peak').textContent = 'line feed: ' + e.message;
  }
}

// ---- DECT devices -----------------------------------------------------------
function deviceCard(name) {
  const id = 'dev-' + name;
  let c = document.getElementById(id);
  if (c) return c;
  const b = (label, action, body) => Object.assign(el('button', { 'data-action': action }, label),
    { onclick: () => act('POST', `devices/${name}/${action}`, body ? body() : undefined) });
  c = el('div', { class: 'device', id, 'data-name': name },
    el('h3', {}, name, el('span', { class: 'badge kind' }), el('span', { class: 'badge reg' })),
    el('div', { class: 'lcd' }, el('div', { class: 'd-caller' }), el('div', { class: 'd-status' })),
    el('dl', { class: 'kv d-kv' }));
  const pin = el('input', { class: 'pin', size: 5, placeholder: 'PIN', value: '0000' });
  const digits = el('input', { class: 'digits', size: 8, placeholder: 'digits' });
  const kp = el('div', { class: 'keypad' });
  buildKeypad(kp, k => act('POST', `devices/${name}/dial`, { digits: k }));
  c.append(el('div', { class: 'controls' }, pin, b('pair', 'pair', () => ({ pin: pin.value })), b('power on', 'power-on'), b('power off', 'power-off'),
    b('in range', 'range', () => ({ in: true })), b('out of range', 'range', () => ({ in: false }))),
  el('div', { class: 'controls' }, b('off-hook', 'offhook'), b('answer', 'answer'), b('on-hook', 'onhook'), b('flash / R', 'flash'),
    digits, b('dial', 'dial', () => ({ digits: digits.value }))), kp);
  c.querySelectorAll('[data-action=range]')[1].dataset.action = 'range-out';
  $('#devices').append(c);
  return c;
}
function renderDevices(list) {
  const seen = new Set();
  for (const d of list || []) {
    const { name, state: s } = d;
    seen.add(name);
    const c = deviceCard(name);
    c.classList.toggle('ringing', s.call === 'ringing');
    $('.kind', c).textContent = s.kind;
    const reg = $('.reg', c);
    reg.textContent = s.registered ? (s.attached ? `paired, handset ${s.handset}` : 'paired, not attached') : s.denied ? 'refused: ' + s.denied : 'not paired';
    reg.className = 'badge reg ' + (s.registered && s.attached ? 'ok' : s.denied ? 'bad' : '');
    const who = s.caller && (s.caller.name || s.caller.number) ? `${s.caller.name || ''} ${s.caller.number || ''}` : '';
    $('.d-caller', c).textContent = s.call === 'ringing' || s.call === 'connected' ? who : '';
    const heard = d.heard && d.heard.hz ? ` · hears ${Math.round(d.heard.hz)} Hz` : '';
    $('.d-status', c).replaceChildren(`${s.powered ? '' : 'OFF '}${s.call || ''}${s.tone ? ' · hears ' + s.tone : heard}${s.waiting ? ' · waiting: ' + (s.waiting.name || s.waiting.number) : ''} `,
      s.mwi ? el('span', { class: 'mwi' }, `MSG ${s.mwi_count}`) : '');
    fillKV($('.d-kv', c), { IPEI: s.ipei, hook: s.off_hook ? 'off-hook' : 'on-hook', 'in range': s.in_range, RSSI: s.rssi + ' dBm',
      'link quality': s.link_quality + ' %', battery: s.battery < 0 ? 'mains' : s.battery + ' %', firmware: s.firmware,
      audio: s.audio_rate ? `${s.audio_rate} Hz, slot ${s.audio_slot}` : 'none', released: s.released, clock: s.clock });
    change('dect', `dev.${name}.reg`, reg.textContent, `${name}: ${reg.textContent}`);
    change('dect', `dev.${name}.call`, s.call, `${name}: call ${s.call}${s.call === 'ringing' && who ? ' from ' + who : ''}`);
    change('dect', `dev.${name}.tone`, s.tone, `${name} hears ${s.tone || 'nothing'}`);
    change('dect', `dev.${name}.mwi`, s.mwi_count, `${name}: ${s.mwi_count} messages waiting`);
    change('dect', `dev.${name}.power`, s.powered, `${name} powered ${s.powered ? 'on' : 'off'}`);
  }
  for (const c of [...$('#devices').children]) if (!seen.has(c.dataset.name)) c.remove();
}

// ---- callers (softphones) and the PBX ---------------------------------------
function callerCard(ext) {
  const id = 'sp-' + ext;
  let c = document.getElementById(id);
  if (c) return c;
  const to = el('input', { class: 'to', size: 6, value: '101' });
  const hz = el('input', { class: 'hz', type: 'number', value: 1000, min: 0, max: 3800 });
  const dg = el('input', { class: 'sp-digits', size: 6, placeholder: 'digits' });
  const b = (label, action, body) => Object.assign(el('button', { 'data-action': action }, label),
    { onclick: () => act('POST', `${callers.path}/${ext}/${action}`, body ? body() : undefined) });
  // The call's presentation: display name, number or tel:/sip: identity,
  // privacy (only the fields filled in are sent).
  const pName = el('input', { class: 'p-name', size: 10, placeholder: 'display name' });
  const pNum = el('input', { class: 'p-number', size: 11, placeholder: 'number' });
  const pId = el('input', { class: 'p-identity', size: 18, placeholder: 'tel:… or sip:user@host' });
  const pPriv = el('input', { class: 'p-privacy', type: 'checkbox' });
  const callBody = () => {
    const o = { to: to.value };
    if (pName.value) o.name = pName.value;
    if (pNum.value) o.number = pNum.value;
    if (pId.value) o.identity = pId.value;
    if (pPriv.checked) o.privacy = true;
    return o;
  };
  // How it answers when called.
  const when = el('select', { class: 'when' }, ...['ring', 'answer', 'busy', 'no_answer', 'reject'].map(w => el('option', {}, w)));
  const after = el('input', { class: 'after', type: 'number', min: 0, max: 120000, value: 0, size: 6 });
  const ringFor = el('input', { class: 'ring-timeout', type: 'number', min: 0, max: 3600, value: 0, size: 4 });
  c = el('div', { class: 'caller', id, 'data-ext': ext },
    el('div', {}, el('b', {}, ext), ' ', el('span', { class: 'who' }), ' ', el('span', { class: 'state' }), ' ', el('span', { class: 'behaviour note' }), ' ', el('span', { class: 'info note' })),
    el('div', { class: 'controls' }, 'call', to, b('call', 'call', callBody), b('answer', 'answer'), b('hang up', 'hangup'),
      hz, b('tone', 'tone', () => ({ hz: Number(hz.value) })), dg, b('send DTMF', 'digits', () => ({ digits: dg.value }))),
    el('div', { class: 'controls' }, 'as', pName, pNum, pId, el('label', {}, pPriv, ' private')),
    el('div', { class: 'controls' }, 'when called', when, 'after', after, 'ms; the PBX gives up after', ringFor, 's (0: its default)',
      b('set behaviour', 'behaviour', () => ({ when_called: when.value, answer_after_ms: Number(after.value), ring_timeout_ms: Number(ringFor.value) * 1000 }))));
  $('#callers').append(c);
  return c;
}
function renderCallers(list) {
  for (const s of list || []) {
    const ext = s.extension ?? s.number;
    const c = callerCard(ext);
    $('.who', c).textContent = s.name || '';
    $('.state', c).textContent = s.state;
    $('.behaviour', c).textContent = s.when_called ? `(when called: ${s.when_called}${s.when_called === 'answer' ? ' after ' + (s.answer_after_ms || 0) + ' ms' : ''}` +
      `${s.ring_timeout_ms ? '; the PBX rings it ' + s.ring_timeout_ms / 1000 + ' s' : ''})` : '';
    $('.info', c).textContent = `hears ${Math.round(s.heard_hz || 0)} Hz · digits "${s.digits_received || ''}" · ${s.received_packets || 0} RTP` +
      (s.last_caller_id || s.last_from ? ` · last caller ${s.last_caller_id || ''} ${s.last_from || ''} ${s.last_identity || ''}` : '');
    change('sip', 'sp.' + ext, s.state, `softphone ${ext}: ${s.state}`);
  }
}
function renderPBX(p) {
  const row = (cells, th) => el('tr', {}, ...cells.map(x => el(th ? 'th' : 'td', {}, String(x ?? ''))));
  $('#pbx-regs').replaceChildren(row(['registered', 'contact', 'transport', 'agent'], true),
    ...(p.registrations || []).map(r => row([r.ext, r.contact, r.transport, r.user_agent])));
  const calls = (p.calls || []).slice(-8);
  $('#pbx-calls').replaceChildren(row(['call', 'from', 'to', 'state', 'started'], true),
    ...calls.map(c => row([c.id, `${c.invite?.from_name || ''} ${c.caller}`, c.dialled, c.state + (c.transferred_to ? ' → ' + c.transferred_to : ''), (c.start || '').slice(11, 19)])));
  for (const c of p.calls || []) change('sip', 'call.' + c.id, c.state, `PBX call ${c.id} ${c.caller} → ${c.dialled}: ${c.state}`);
}

// The simulated callers are /v1/callers in the newer API, /v1/softphones
// (fixed extensions) in the older one.
const callers = { path: '' };
async function findCallers() {
  try {
    await request('GET', 'callers');
    callers.path = 'callers';
    $('#callers-note').textContent = '';
  } catch (e) {
    if (e.status !== 404) throw e;
    callers.path = 'softphones';
    $('#callers-note').textContent = 'this basesim has the fixed softphones only (no /v1/callers): adding callers is not available';
    $('#callers-note').className = 'note warn';
  }
}

// ---- polling ----------------------------------------------------------------
let polling = false, tick = 0, firmwareShown = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    if (!callers.path) await findCallers();
    const [base, port, devices, sps] = await Promise.all(['base', 'ports/1', 'devices', callers.path].map(p => request('GET', p)));
    renderBase(base); renderPhone(port); renderDevices(devices); renderCallers(sps);
    if (tick++ % 3 === 0) {
      renderPBX(await request('GET', 'pbx'));
      const r = await request('GET', 'radio');
      $('#radio-state').textContent = JSON.stringify(r, null, 1);
      change('dect', 'radio.boots', r.stats && r.stats.boots, `radio module boot #${r.stats && r.stats.boots}`);
    }
    if (!firmwareShown) {
      firmwareShown = true;
      request('GET', 'firmware').then(v => { $('#firmware').textContent = JSON.stringify(v, null, 1); },
        e => { $('#firmware').textContent = e.status === 404 ? 'firmware simulation off (basesim --firmware turns it on): ' + e.message : e.message; });
    }
    $('#conn').textContent = 'connected'; $('#conn').className = 'conn ok';
    document.body.dataset.ready = 'true';
  } catch (e) {
    $('#conn').textContent = 'API: ' + e.message; $('#conn').className = 'conn bad';
  } finally {
    polling = false;
  }
}

// ---- recording --------------------------------------------------------------
const rec = { start: 0, name: '' };
let config = { line: false, record_dir: '' };
async function recordStart() {
  const name = $('#rec-name').value.trim();
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,59}\.wav$/.test(name)) { toast('recording name: letters, digits, - _ . and ending in .wav', false); return; }
  if (!config.record_dir) { toast('this panel has no recording directory: record from the console and open the file below', false); return; }
  if (await act('POST', 'ports/1/record', { path: config.record_dir + '/' + name, both: $('#rec-both').checked }) !== null) {
    rec.start = Date.now() + line.offset; rec.name = name;
    $('#rec-info').textContent = `recording ${name}…`;
  }
}
async function recordStop() {
  if (await act('POST', 'ports/1/stop-recording') === null || !rec.name) return;
  const end = Date.now() + line.offset;
  try {
    const res = await fetch(SELF + 'recordings/' + encodeURIComponent(rec.name));
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    await pollLine();
    plotRecording(rec.name, await res.arrayBuffer(), rec.start, end);
  } catch (e) { toast('recording: ' + e.message, false); }
}
// plotRecording draws a WAV: the ring bursts and the caller ID decoded during
// it (when this panel recorded it between start and end, wall-clock ms) and
// the FSK bursts found in it. A loaded simulator may deliver less audio than
// the wall-clock time (late PCM frames are not made up), so the plot maps
// wall-clock times onto the recording linearly between its two ends; ring
// lengths and gaps are the ringer's own timestamps.
function plotRecording(name, buf, start, end) {
  let w;
  try { w = Plot.parseWAV(buf); } catch (e) { $('#rec-info').textContent = `${name}: ${e.message}`; return; }
  const x = w.channels[0], dur = x.length / w.rate, marks = [];
  let rings = [];
  if (start && end > start) {
    const at = t => Math.max(0, Math.min(dur, (Date.parse(t) - start) / (end - start) * dur));
    rings = line.rings.filter(r => r.valid && Date.parse(r.start) < end && (r.end ? Date.parse(r.end) : end) > start).map(r => ({
      t0: at(r.start), t1: r.end ? at(r.end) : dur, from: Date.parse(r.start), to: r.end ? Date.parse(r.end) : end, open: !r.end,
    }));
    for (const r of rings) marks.push({ t0: r.t0, t1: r.t1, label: 'ring', color: '#ef5350' });
    const c = phoneState.caller_id;
    if (c && c.received && Date.parse(c.received) >= start && Date.parse(c.received) <= end) {
      marks.push({ t0: at(c.received), label: 'caller ID: ' + (c.name || c.number), color: '#ffee58' });
    }
  }
  const fsk = Plot.fskBursts(x, w.rate);
  for (const f of fsk) marks.push({ t0: f.t0, t1: f.t1, label: 'FSK', color: '#4dd0e1' });
  Plot.drawWave($('#rec-wave'), x, w.rate, marks);
  Plot.drawSpectrogram($('#rec-spec'), x, w.rate, marks);
  const info = $('#rec-info');
  const cad = rings.length ? rings.map(r => ((r.to - r.from) / 1000).toFixed(1) + ' s' + (r.open ? ' (still ringing at the end)' : '')).join(', ') : 'none seen';
  const gaps = rings.slice(1).map((r, i) => ((r.from - rings[i].to) / 1000).toFixed(1) + ' s').join(', ');
  info.textContent = `${name}: ${w.rate} Hz, ${w.channels.length} channel(s), ${dur.toFixed(1)} s (plotted: what the phone hears) · ring bursts: ${cad}` +
    (gaps ? ` (gaps ${gaps})` : '') + ` · FSK bursts in the audio: ${fsk.map(f => `${f.t0.toFixed(2)}–${f.t1.toFixed(2)} s`).join(', ') || 'none'}`;
  info.dataset.rings = rings.length; info.dataset.fsk = fsk.length; info.dataset.duration = dur.toFixed(2);
  info.dataset.firstRing = rings.length ? ((rings[0].to - rings[0].from) / 1000).toFixed(2) : '';
}

// dialBody adds the dialing options that are filled in (the older API
// refuses fields it does not know, so empty ones are not sent).
function dialBody(b, keys) {
  for (const k of keys) {
    const v = $(`#dial-options [data-opt="${k}"]`).value;
    if (v !== '') b[k] = Number(v);
  }
  return b;
}

// ---- wiring -----------------------------------------------------------------
function wire() {
  const on = (id, f) => { $(id).onclick = f; };
  on('#btn-press', () => act('POST', 'base/button', { held_ms: 200 }));
  on('#base-button', () => act('POST', 'base/button', { held_ms: 200 }));
  on('#btn-long', () => act('POST', 'base/button', { held_ms: 3500 }));
  on('#btn-custom', () => act('POST', 'base/button', { held_ms: Number($('#btn-ms').value) }));
  on('#handset', () => act('POST', phoneState.hook === 'off-hook' ? 'ports/1/onhook' : 'ports/1/offhook'));
  buildKeypad($('#keypad'), k => act('POST', 'ports/1/dial', { digits: k }));
  buildRotary();
  on('#dial-dtmf', () => act('POST', 'ports/1/dial', dialBody({ digits: $('#dial-digits').value }, ['tone_ms', 'gap_ms', 'level_dbm0', 'twist_db', 'freq_offset_pct'])));
  on('#dial-pulse', () => act('POST', 'ports/1/dial', dialBody({ digits: $('#dial-digits').value, mode: 'pulse' }, ['pps', 'break_pct'])));
  on('#play', () => act('POST', 'ports/1/play', { path: $('#play-path').value }));
  on('#caller-add', () => act('POST', 'callers', { number: $('#caller-number').value, name: $('#caller-name').value,
    when_called: $('#caller-when').value, answer_after_ms: Number($('#caller-after').value) }));
  const num = id => Number($(id).value);
  on('#lf-set', () => act('POST', 'ports/1/line', {
    tip_ring_ohms: num('#lf-tip-ring'), tip_ground_ohms: num('#lf-tip-ground'), ring_ground_ohms: num('#lf-ring-ground'),
    tip_dc_volts: num('#lf-tip-dc'), ring_dc_volts: num('#lf-ring-dc'), tip_ac_vrms: num('#lf-tip-ac'), ring_ac_vrms: num('#lf-ring-ac'),
    ac_hz: num('#lf-ac-hz'), ren: num('#lf-ren') }));
  on('#lf-clear', () => act('POST', 'ports/1/line', {}));
  on('#pbx-down', () => act('POST', 'pbx/outage', { on: true }));
  on('#pbx-up', () => act('POST', 'pbx/outage', { on: false }));
  on('#broker-down', () => act('POST', 'broker/outage', { on: true }));
  on('#broker-up', () => act('POST', 'broker/outage', { on: false }));
  on('#flash', () => act('POST', 'ports/1/flash', { ms: Number($('#flash-ms').value) }));
  on('#speak', () => act('POST', 'ports/1/speak', { hz: Number($('#speak-hz').value), ms: Number($('#speak-ms').value) }));
  on('#add-device', () => act('POST', 'devices', { kind: $('#add-kind').value, model: $('#add-model').value }));
  on('#radio-faults', () => act('POST', 'radio/faults', { corrupt_rate: Number($('#f-corrupt').value), drop_rate: Number($('#f-drop').value), dup_rate: Number($('#f-dup').value) }));
  on('#radio-reset', () => act('POST', 'radio/reset'));
  on('#vm-set', () => act('POST', 'pbx/voicemail', { extension: $('#vm-ext').value, new: Number($('#vm-new').value), old: Number($('#vm-old').value) }));
  on('#rec-start', recordStart);
  on('#rec-stop', recordStop);
  $('#rec-file').onchange = async e => { const f = e.target.files[0]; if (f) plotRecording(f.name, await f.arrayBuffer(), 0, 0); };
  on('#tl-clear', () => $('#timeline').replaceChildren());
  for (const s of ['line', 'dect', 'sip', 'mqtt', 'base']) $('#tl-' + s).onchange = e => {
    for (const li of document.querySelectorAll(`#timeline li[data-src=${s}]`)) li.hidden = !e.target.checked;
  };
  on('#raw-send', async () => {
    const body = $('#raw-body').value.trim();
    try { $('#raw-out').textContent = JSON.stringify(await request($('#raw-method').value, $('#raw-path').value, body || undefined), null, 1); } catch (e) { $('#raw-out').textContent = e.message; }
    poll();
  });
}

async function main() {
  wire();
  try { config = await request('GET', SELF + 'config.json'); } catch (e) { toast('panel config: ' + e.message, false); }
  if (config.line) setInterval(pollLine, LINE_MS);
  else $('#spectrum-peak').textContent = 'no line feed in this basesim: level and spectrum not available';
  startEvents();
  addEvent('base', 'panel opened');
  await poll();
  setInterval(poll, POLL_MS);
}
main();
