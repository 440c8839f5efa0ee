// Sluice UI: a client of the Kubernetes API that `sluice serve` exposes (as the Tekton
// Dashboard and the Argo CD UI are). Every string from the server goes into the DOM as text
// (`h` below never parses HTML); the token lives in sessionStorage and travels only in the
// Authorization header. Lists stay live through watches, never polling.

import { dagLayout, renderDag } from './dag.js';

const TOKEN_KEY = 'sluice-token';
const PAGE = 200; // rows rendered per "show more"

// ---------------------------------------------------------------------------- DOM helpers

export function h(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'value') e.value = v;
    else if (k === 'checked') e.checked = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else if (c instanceof Node) e.append(c);
    else e.append(document.createTextNode(String(c)));
  }
}

function clear(e) { while (e.firstChild) e.firstChild.remove(); }
function replace(e, ...children) { clear(e); append(e, children); }

const get = (o, path, d = '') => {
  let v = o;
  for (const k of path.split('.')) { if (v === null || v === undefined) return d; v = v[k]; }
  return v === null || v === undefined ? d : v;
};

// --------------------------------------------------------------------------------- times

function age(ts) {
  if (!ts) return '---';
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function when(ts) {
  if (!ts) return h('span', { class: 'muted' }, '---');
  return h('time', { datetime: ts, title: new Date(ts).toLocaleString() }, age(ts));
}

function duration(start, end) {
  if (!start) return '---';
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

// ------------------------------------------------------------------------------ statuses

const ICON = { ok: '✓', bad: '✗', warn: '!', run: '●', idle: '○' };

function badge(cls, word) {
  return h('span', { class: `status s-${cls}`, 'data-status': word },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, ICON[cls] || '○'), word);
}

// Tekton's Succeeded condition as `tkn` prints it.
function runStatus(o) {
  const c = (get(o, 'status.conditions', []) || []).find((c) => c.type === 'Succeeded');
  if (!c) return { cls: 'idle', word: 'Pending' };
  if (c.status === 'True') return { cls: 'ok', word: 'Succeeded' };
  if (c.status === 'False') {
    const r = c.reason || 'Failed';
    return { cls: /Cancel|Stopped|Timeout|Timedout/.test(r) ? 'warn' : 'bad', word: r === 'Failed' ? 'Failed' : r };
  }
  return { cls: 'run', word: c.reason && c.reason !== 'Running' ? `Running (${c.reason})` : 'Running' };
}

function message(o) {
  const c = (get(o, 'status.conditions', []) || []).find((c) => c.type === 'Succeeded');
  return c ? c.message || '' : '';
}

function syncCls(s) { return s === 'Synced' ? 'ok' : s === 'OutOfSync' ? 'warn' : 'idle'; }
function healthCls(s) {
  return { Healthy: 'ok', Degraded: 'bad', Missing: 'bad', Progressing: 'run', Suspended: 'warn' }[s] || 'idle';
}

// ----------------------------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

function headers(extra) {
  const hd = { Accept: 'application/json', ...(extra || {}) };
  const t = token();
  if (t) hd.Authorization = `Bearer ${t}`;
  return hd;
}

async function failure(r) {
  let msg = '';
  try {
    const s = await r.json();
    msg = s.message || '';
  } catch { /* not a Status */ }
  if (r.status === 401) return new ApiError(401, msg || 'The server refused the token (401 Unauthorized).');
  if (r.status === 403) return new ApiError(403, msg || 'Forbidden (403): the token may not do this.');
  return new ApiError(r.status, msg || `${r.status} ${r.statusText}`);
}

async function api(path, opts) {
  opts = opts || {};
  const hd = headers(opts.headers);
  let body = opts.body;
  if (body !== undefined && typeof body !== 'string') body = JSON.stringify(body);
  const r = await fetch(path, { method: opts.method || 'GET', headers: hd, body, signal: opts.signal });
  if (!r.ok) {
    const e = await failure(r);
    if (e.status === 401) toLogin(e.message);
    throw e;
  }
  if (r.status === 204) return null;
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

const mergePatch = (path, body) => api(path, { method: 'PATCH', body, headers: { 'Content-Type': 'application/merge-patch+json' } });

function qs(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q || {})) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Reads a streamed response line by line.
async function lines(r, onLine, signal) {
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    if (signal && signal.aborted) return;
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  buf += dec.decode();
  if (buf) onLine(buf);
}

const keyOf = (o) => `${get(o, 'metadata.namespace')}/${get(o, 'metadata.name')}`;

// A live list: list, then watch from its resourceVersion, re-listing after a break.
// onChange(items) runs at most once per animation frame. Returns a stop function.
function live(path, query, onChange, onError) {
  const ctl = new AbortController();
  const items = new Map();
  let queued = false;
  const emit = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; if (!ctl.signal.aborted) onChange([...items.values()]); });
  };
  (async () => {
    let backoff = 500;
    while (!ctl.signal.aborted) {
      try {
        const list = await api(path + qs(query), { signal: ctl.signal });
        items.clear();
        for (const o of list.items || []) items.set(keyOf(o), o);
        emit();
        const rv = get(list, 'metadata.resourceVersion');
        const r = await fetch(path + qs({ ...query, watch: 'true', resourceVersion: rv, allowWatchBookmarks: 'true' }),
          { headers: headers(), signal: ctl.signal });
        if (!r.ok) throw await failure(r);
        backoff = 500;
        await lines(r, (line) => {
          if (!line.trim()) return;
          const ev = JSON.parse(line);
          if (ev.type === 'BOOKMARK') return;
          if (ev.type === 'ERROR') throw new ApiError(get(ev, 'object.code', 500), get(ev, 'object.message', 'watch error'));
          if (ev.type === 'DELETED') items.delete(keyOf(ev.object));
          else items.set(keyOf(ev.object), ev.object);
          emit();
        }, ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted) return;
        if (e.status === 401) return; // api() has sent the user to the login page
        if (onError) onError(e);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10000);
      }
    }
  })();
  return () => ctl.abort();
}

// Kind -> plural through discovery (cached per group/version).
const discovery = new Map();
async function resourcePath(group, version, kind, namespace, name) {
  const gv = group ? `/apis/${group}/${version}` : `/api/${version || 'v1'}`;
  if (!discovery.has(gv)) discovery.set(gv, api(gv).catch(() => ({ resources: [] })));
  const list = await discovery.get(gv);
  const r = (list.resources || []).find((r) => r.kind === kind && !r.name.includes('/'));
  const plural = r ? r.name : `${kind.toLowerCase()}s`;
  const namespaced = r ? r.namespaced : !!namespace;
  return `${gv}${namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

// Group/version of a status.resources entry (Argo CD stores group, version, kind).
async function versionOf(group, kind) {
  if (!group) return 'v1';
  const gv = `/apis/${group}`;
  if (!discovery.has(gv)) discovery.set(gv, api(gv).catch(() => ({})));
  const g = await discovery.get(gv);
  return get(g, 'preferredVersion.version') || 'v1';
}

// ------------------------------------------------------------------------------ YAML out

function yaml(v, indent = '') {
  const scalar = (s) => {
    if (s === null) return 'null';
    if (typeof s === 'number' || typeof s === 'boolean') return String(s);
    const str = String(s);
    if (str === '' || /^[\s#&*!|>'"%@`{}[\],?:-]|[:#]\s|\s$|\n/.test(str) || /^(true|false|null|yes|no|on|off|~|[-+]?[0-9.]+(e[-+]?[0-9]+)?)$/i.test(str)) {
      return JSON.stringify(str);
    }
    return str;
  };
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return v.map((x) => {
      if (x && typeof x === 'object' && Object.keys(x).length) {
        const inner = yaml(x, indent + '  ');
        return `${indent}- ${inner.slice(indent.length + 2)}`;
      }
      return `${indent}- ${x && typeof x === 'object' ? (Array.isArray(x) ? '[]' : '{}') : scalar(x)}`;
    }).join('\n');
  }
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (!keys.length) return '{}';
    return keys.map((k) => {
      const x = v[k];
      const key = scalar(k);
      if (x && typeof x === 'object' && (Array.isArray(x) ? x.length : Object.keys(x).length)) {
        return `${indent}${key}:\n${yaml(x, Array.isArray(x) ? indent : indent + '  ')}`;
      }
      return `${indent}${key}: ${x && typeof x === 'object' ? (Array.isArray(x) ? '[]' : '{}') : scalar(x)}`;
    }).join('\n');
  }
  return indent + scalar(v);
}

// ------------------------------------------------------------------------- ANSI colours

// Splits one log line on SGR escapes into spans (text only; other escapes are dropped).
function ansiLine(text) {
  const out = [];
  let cls = [];
  const re = /\x1b\[([0-9;]*)m/g;
  let last = 0;
  let m;
  const push = (s) => { if (s) out.push(cls.length ? h('span', { class: cls.join(' ') }, s) : s); };
  while ((m = re.exec(text))) {
    push(text.slice(last, m.index));
    last = re.lastIndex;
    for (const code of (m[1] || '0').split(';').map(Number)) {
      if (code === 0) cls = [];
      else if (code === 1) cls = [...cls.filter((c) => c !== 'ansi-bold'), 'ansi-bold'];
      else if (code >= 30 && code <= 37) cls = [...cls.filter((c) => !/^ansi-3/.test(c)), `ansi-${code}`];
      else if (code >= 90 && code <= 97) cls = [...cls.filter((c) => !/^ansi-3/.test(c)), `ansi-${code - 60}`];
      else if (code === 39) cls = cls.filter((c) => !/^ansi-3/.test(c));
    }
  }
  push(text.slice(last).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''));
  return out;
}

// ---------------------------------------------------------------------------- the shell

let stopView = [];
function onLeave(f) { stopView.push(f); }

const main = () => document.getElementById('main');

function toLogin(msg) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (msg) loginMessage = msg;
  if (location.hash.startsWith('#/login')) return;
  const back = location.hash;
  location.hash = `#/login${back ? `?next=${encodeURIComponent(back)}` : ''}`;
}
let loginMessage = '';

const NAV = [['runs', 'Runs'], ['listeners', 'EventListeners'], ['apps', 'Applications'], ['rollouts', 'Rollouts'], ['policies', 'Policies']];

function shell(active) {
  const top = document.getElementById('top');
  replace(top,
    h('a', { class: 'brand', href: '#/runs' }, 'Sluice'),
    token() ? h('nav', { 'aria-label': 'Main' }, NAV.map(([k, label]) =>
      h('a', { href: `#/${k}`, 'aria-current': active === k ? 'page' : null }, label))) : null,
    token() ? h('div', { class: 'who' },
      h('span', { id: 'whoami' }, whoami),
      h('button', { onclick: () => { sessionStorage.removeItem(TOKEN_KEY); whoami = ''; loginMessage = ''; location.hash = '#/login'; } }, 'Log out')) : null);
}
let whoami = '';

function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e));
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/runs';
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(query || '') };
}

function setQuery(q) {
  const { parts } = parseHash();
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) s.set(k, v);
  const str = s.toString();
  history.replaceState(null, '', `#/${parts.map(encodeURIComponent).join('/')}${str ? `?${str}` : ''}`);
}

async function route() {
  for (const f of stopView) { try { f(); } catch { /* gone */ } }
  stopView = [];
  const { parts, query } = parseHash();
  const [view, ns, name] = parts;
  if (!token() && view !== 'login' && view !== 'oidc') { toLogin(''); return; }
  shell(view);
  const m = main();
  replace(m, h('p', { class: 'muted' }, 'Loading…'));
  try {
    if (view === 'login') return loginView(m, query);
    if (view === 'oidc') return oidcView(m, query);
    if (view === 'runs' && ns && name) return runView(m, ns, name, query);
    if (view === 'runs' || !view) return runsView(m, query);
    if (view === 'listeners') return listenersView(m);
    if (view === 'apps' && ns && name) return appView(m, ns, name);
    if (view === 'apps') return appsView(m, query);
    if (view === 'rollouts') return rolloutsView(m);
    if (view === 'policies') return policiesView(m);
    replace(m, h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/runs' }, 'Runs')));
  } catch (e) {
    if (e.status === 401) return;
    replace(m, errorBox(e));
  }
}

// --------------------------------------------------------------------------------- login

async function loginView(m, query) {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true });
  // the message stays until a login succeeds (a page may route here more than once)
  const msg = h('div', { 'aria-live': 'assertive' }, loginMessage ? errorBox(loginMessage) : null);
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      try {
        whoami = await identify();
        loginMessage = '';
        const next = query.get('next');
        location.hash = next && next.startsWith('#/') ? next : '#/runs';
      } catch (e) {
        sessionStorage.removeItem(TOKEN_KEY);
        replace(msg, errorBox(e));
      }
    },
  }, h('label', { for: 'token' }, 'Token (DATA/token of `sluice serve`, or a user token)'), input,
  h('button', { class: 'primary', type: 'submit' }, 'Log in'));
  // a failed single sign-on comes back here with its reason
  if (query.get('error')) replace(msg, errorBox(query.get('error')));
  const sso = h('div', { class: 'sso' });
  replace(m, h('div', { class: 'login' }, h('h1', {}, 'Log in to Sluice'), msg, sso, form));
  input.focus();
  // single sign-on through argocd-cm's oidc.config provider, as Argo CD's "LOG IN VIA ..."
  try {
    const r = await fetch('/auth/config', { credentials: 'omit' });
    const c = r.ok ? await r.json() : {};
    if (c.name) {
      const next = query.get('next');
      const back = `/${next && next.startsWith('#/') ? next : '#/runs'}`;
      replace(sso, h('a', { class: 'button primary', id: 'sso', href: `/auth/login?return_url=${encodeURIComponent(back)}` }, `Log in via ${c.name}`));
    }
  } catch { /* no single sign-on */ }
}

// The end of a single sign-on: the server kept the ID token in a cookie only /auth/token
// reads; it becomes the session's token as a typed one would.
async function oidcView(m, query) {
  const r = await fetch('/auth/token', { method: 'POST', credentials: 'same-origin' });
  const body = r.ok ? await r.json() : {};
  if (!body.token) { loginMessage = 'Single sign-on did not complete; log in again.'; location.hash = '#/login'; return; }
  sessionStorage.setItem(TOKEN_KEY, body.token);
  try {
    whoami = await identify();
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    loginMessage = e.message;
    location.hash = '#/login';
    return;
  }
  loginMessage = '';
  const next = (query.get('next') || '').replace(/^\//, '');
  location.hash = next.startsWith('#/') ? next : '#/runs';
  replace(m, h('p', { class: 'muted' }, 'Logged in.'));
}

// Who the token is: a SelfSubjectReview (Kubernetes 1.28+); any authenticated answer will do.
async function identify() {
  const r = await fetch('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    method: 'POST', headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
  });
  if (r.ok) return get(await r.json(), 'status.userInfo.username', 'signed in');
  if (r.status === 401) throw await failure(r);
  const v = await fetch('/api', { headers: headers() });
  if (!v.ok) throw await failure(v);
  return 'signed in';
}

// ---------------------------------------------------------------------------------- runs

const TEKTON = '/apis/tekton.dev/v1';

function pipelineOf(pr) {
  return get(pr, 'spec.pipelineRef.name') || (get(pr, 'metadata.labels') || {})['tekton.dev/pipeline'] || '(embedded)';
}

function paramValue(pr, re) {
  const p = (get(pr, 'spec.params', []) || []).find((p) => re.test(p.name));
  return p ? (typeof p.value === 'string' ? p.value : JSON.stringify(p.value)) : '';
}

function trigger(pr) {
  const l = get(pr, 'metadata.labels') || {};
  const el = l['triggers.tekton.dev/eventlistener'];
  const id = l['triggers.tekton.dev/triggers-eventid'];
  const repo = paramValue(pr, /(^|-)(repo|repository|git-url|url|project)(-|$)/i);
  const rev = paramValue(pr, /(revision|sha|commit)/i);
  if (!el && !repo && !rev) return h('span', { class: 'muted' }, 'manual');
  return h('span', {}, el ? h('span', { title: id ? `event ${id}` : null }, `⚡ ${el}`) : null,
    repo ? h('div', { class: 'muted' }, repo) : null, rev ? h('div', {}, h('code', {}, rev.slice(0, 12))) : null);
}

function labelMatch(o, sel) {
  if (!sel) return true;
  const l = get(o, 'metadata.labels') || {};
  return sel.split(',').map((s) => s.trim()).filter(Boolean).every((term) => {
    const neq = term.split('!=');
    if (neq.length === 2) return l[neq[0].trim()] !== neq[1].trim();
    const eq = term.split(/==?/);
    if (eq.length === 2) return l[eq[0].trim()] === eq[1].trim();
    if (term.startsWith('!')) return !(term.slice(1) in l);
    return term in l;
  });
}

function runsView(m, query) {
  const f = {
    ns: query.get('ns') || '', pipeline: query.get('pipeline') || '', status: query.get('status') || '',
    label: query.get('label') || '', q: query.get('q') || '',
  };
  let shown = PAGE;
  let items = [];
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const errors = h('div');
  const body = h('tbody');
  const input = (key, label, attrs) => h('label', {}, label, h('input', {
    ...attrs, value: f[key], oninput: (ev) => { f[key] = ev.target.value; shown = PAGE; setQuery(f); draw(); },
  }));
  const status = h('select', { onchange: (ev) => { f.status = ev.target.value; setQuery(f); draw(); } },
    ['', 'Running', 'Succeeded', 'Failed', 'Cancelled', 'Pending'].map((s) => h('option', { value: s, selected: f.status === s ? true : null }, s || 'any')));
  const more = h('button', { class: 'more', onclick: () => { shown += PAGE; draw(); } }, 'Show more');
  replace(m,
    h('h1', {}, 'PipelineRuns ', count),
    h('div', { class: 'filters', role: 'search' },
      input('q', 'Search', { type: 'search', placeholder: 'name' }),
      input('ns', 'Namespace', { placeholder: 'all' }),
      input('pipeline', 'Pipeline', {}),
      h('label', {}, 'Status', status),
      input('label', 'Labels', { placeholder: 'app=web,env!=prod' })),
    errors,
    h('table', { id: 'runs' }, h('thead', {}, h('tr', {}, ['Status', 'Name', 'Namespace', 'Pipeline', 'Trigger', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))), body),
    more);
  function draw() {
    const list = items.filter((pr) => {
      const st = runStatus(pr).word;
      return (!f.ns || get(pr, 'metadata.namespace') === f.ns) &&
        (!f.pipeline || pipelineOf(pr).includes(f.pipeline)) &&
        (!f.status || st.startsWith(f.status) || (f.status === 'Failed' && runStatus(pr).cls === 'bad')) &&
        (!f.q || get(pr, 'metadata.name').includes(f.q)) && labelMatch(pr, f.label);
    }).sort((a, b) => (get(b, 'metadata.creationTimestamp') > get(a, 'metadata.creationTimestamp') ? 1 : -1));
    count.textContent = list.length === items.length ? `(${items.length})` : `(${list.length} of ${items.length})`;
    replace(body, list.slice(0, shown).map((pr) => {
      const st = runStatus(pr);
      const ns = get(pr, 'metadata.namespace'), name = get(pr, 'metadata.name');
      return h('tr', { 'data-run': `${ns}/${name}` },
        h('td', {}, badge(st.cls, st.word)),
        h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}` }, name)),
        h('td', {}, ns), h('td', {}, pipelineOf(pr)), h('td', {}, trigger(pr)),
        h('td', {}, when(get(pr, 'status.startTime'))),
        h('td', { class: 'num' }, duration(get(pr, 'status.startTime'), get(pr, 'status.completionTime'))));
    }));
    if (!list.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, items.length ? 'No run matches the filters.' : 'No PipelineRuns yet.')));
    more.hidden = list.length <= shown;
  }
  onLeave(live(`${TEKTON}/pipelineruns`, {}, (xs) => { items = xs; replace(errors); draw(); }, (e) => replace(errors, errorBox(e))));
}

// A PipelineRun: header and actions, the DAG, the selected task's steps and logs.
async function runView(m, ns, name, query) {
  const base = `${TEKTON}/namespaces/${encodeURIComponent(ns)}`;
  let pr = await api(`${base}/pipelineruns/${encodeURIComponent(name)}`);
  let spec = get(pr, 'status.pipelineSpec') || get(pr, 'spec.pipelineSpec') || null;
  if (!spec && get(pr, 'spec.pipelineRef.name')) {
    spec = await api(`${base}/pipelines/${encodeURIComponent(pr.spec.pipelineRef.name)}`).then((p) => p.spec).catch(() => null);
  }
  let taskruns = [];
  let selected = query.get('task') ? { name: query.get('task'), finally: query.get('finally') === '1' } : null;
  let step = query.get('step') || '';
  const head = h('div');
  const dagBox = h('div', { class: 'dag', id: 'dag' });
  const detail = h('div', { id: 'task' });
  const errors = h('div');
  replace(m, head, errors, h('h2', {}, 'Tasks'), dagBox, detail);
  const trOf = (task) => taskruns.find((t) => (get(t, 'metadata.labels') || {})['tekton.dev/pipelineTask'] === task);
  const taskState = (task) => {
    const tr = trOf(task);
    if (!tr) {
      const skipped = (get(pr, 'status.skippedTasks', []) || []).find((s) => s.name === task);
      if (skipped) return { cls: 'idle', icon: '⊘', word: 'Skipped', detail: skipped.reason || '' };
      return { cls: 'idle', icon: ICON.idle, word: runStatus(pr).cls === 'run' ? 'Waiting' : 'Not run', detail: '' };
    }
    const st = runStatus(tr);
    return { ...st, icon: ICON[st.cls], detail: duration(get(tr, 'status.startTime'), get(tr, 'status.completionTime')) };
  };
  const select = (task, fin) => {
    selected = { name: task, finally: fin };
    step = '';
    setQuery({ task, finally: fin ? '1' : '' });
    drawDag();
    drawTask();
  };
  function drawHead() {
    const st = runStatus(pr);
    const running = st.cls === 'run' || st.word === 'Pending';
    replace(head,
      h('h1', {}, badge(st.cls, st.word), name),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Namespace'), h('dd', {}, ns),
        h('dt', {}, 'Pipeline'), h('dd', {}, pipelineOf(pr)),
        h('dt', {}, 'Trigger'), h('dd', {}, trigger(pr)),
        h('dt', {}, 'Started'), h('dd', {}, when(get(pr, 'status.startTime'))),
        h('dt', {}, 'Duration'), h('dd', {}, duration(get(pr, 'status.startTime'), get(pr, 'status.completionTime'))),
        message(pr) ? [h('dt', {}, 'Message'), h('dd', {}, message(pr))] : null),
      h('div', { class: 'actions' },
        running ? h('button', { onclick: () => act('Cancel', () => mergePatch(`${base}/pipelineruns/${encodeURIComponent(name)}`, { spec: { status: 'Cancelled' } })) }, 'Cancel') : null,
        h('button', { onclick: rerun }, 'Rerun'),
        h('button', { class: 'danger', onclick: del }, 'Delete')),
      paramsTable('Params', get(pr, 'spec.params', [])),
      paramsTable('Results', get(pr, 'status.results', [])),
      workspaces(get(pr, 'spec.workspaces', [])));
  }
  async function act(what, f) {
    try { await f(); } catch (e) { replace(errors, errorBox(`${what}: ${e.message}`)); }
  }
  async function rerun() {
    const copy = {
      apiVersion: 'tekton.dev/v1', kind: 'PipelineRun',
      metadata: { generateName: `${name.replace(/-[a-z0-9]{5}$/, '').replace(/-r-$/, '')}-r-`, namespace: ns, labels: pr.metadata.labels || {}, annotations: pr.metadata.annotations || {} },
      spec: { ...pr.spec },
    };
    delete copy.spec.status;
    await act('Rerun', async () => {
      const made = await api(`${base}/pipelineruns`, { method: 'POST', body: copy, headers: { 'Content-Type': 'application/json' } });
      location.hash = `#/runs/${encodeURIComponent(ns)}/${encodeURIComponent(made.metadata.name)}`;
    });
  }
  async function del() {
    if (!confirm(`Delete PipelineRun ${name} and its TaskRuns?`)) return;
    await act('Delete', async () => {
      await api(`${base}/pipelineruns/${encodeURIComponent(name)}`, { method: 'DELETE' });
      location.hash = '#/runs';
    });
  }
  function drawDag() {
    if (!spec) { replace(dagBox, h('p', { class: 'muted' }, 'The pipeline spec is not available.')); return; }
    const layout = dagLayout(spec.tasks, spec.finally);
    replace(dagBox, renderDag(layout, (t) => taskState(t), select, selected));
  }
  let stopLog = null;
  function drawTask() {
    if (stopLog) { stopLog(); stopLog = null; }
    if (!selected) { replace(detail, h('p', { class: 'muted' }, 'Select a task to see its steps and logs.')); return; }
    const tr = trOf(selected.name);
    if (!tr) { replace(detail, h('h2', {}, selected.name), h('p', { class: 'muted' }, taskState(selected.name).word)); return; }
    const steps = get(tr, 'status.steps', []) || [];
    const specSteps = get(tr, 'status.taskSpec.steps', []) || [];
    const names = steps.length ? steps.map((s) => s.name) : specSteps.map((s) => s.name);
    if (!step || !names.includes(step)) {
      const failed = steps.find((s) => get(s, 'terminated.exitCode', 0) !== 0 && s.terminated);
      step = failed ? failed.name : (steps.find((s) => s.running) || {}).name || names[0] || '';
    }
    const stepState = (s) => {
      const x = steps.find((y) => y.name === s) || {};
      if (x.terminated) return x.terminated.exitCode === 0 ? { cls: 'ok', word: 'Completed' } : { cls: 'bad', word: `exit ${x.terminated.exitCode}` };
      if (x.running) return { cls: 'run', word: 'Running' };
      return { cls: 'idle', word: 'Waiting' };
    };
    const logBox = h('div');
    replace(detail,
      h('h2', {}, `Task ${selected.name} `, badge(runStatus(tr).cls, runStatus(tr).word)),
      message(tr) ? h('p', {}, message(tr)) : null,
      h('div', { class: 'steps', role: 'group', 'aria-label': 'Steps' }, names.map((s) => {
        const st = stepState(s);
        return h('button', { 'aria-pressed': s === step ? 'true' : 'false', 'data-step': s, onclick: () => { step = s; setQuery({ task: selected.name, finally: selected.finally ? '1' : '', step }); drawTask(); } },
          h('span', { class: `s-${st.cls}`, 'aria-hidden': 'true' }, ICON[st.cls], ' '), s, h('span', { class: 'muted' }, ` (${st.word})`));
      })),
      logBox,
      paramsTable('Results', get(tr, 'status.results', [])));
    const pod = get(tr, 'status.podName');
    if (pod && step) stopLog = logView(logBox, ns, pod, `step-${step}`, !stepState(step).word.match(/Completed|exit/), `${get(tr, 'metadata.name')}-${step}.log`);
    else replace(logBox, h('p', { class: 'muted' }, 'No logs yet.'));
  }
  drawHead(); drawDag(); drawTask();
  let lastTask = '';
  onLeave(live(`${base}/pipelineruns`, { fieldSelector: `metadata.name=${name}` }, (xs) => {
    if (xs[0]) { pr = xs[0]; if (!spec) spec = get(pr, 'status.pipelineSpec') || null; drawHead(); drawDag(); }
  }, (e) => replace(errors, errorBox(e))));
  onLeave(live(`${base}/taskruns`, { labelSelector: `tekton.dev/pipelineRun=${name}` }, (xs) => {
    taskruns = xs;
    drawDag();
    // redraw the task panel only when its TaskRun's steps changed (the log keeps streaming)
    const tr = selected && trOf(selected.name);
    const sig = tr ? JSON.stringify([get(tr, 'status.steps'), get(tr, 'status.conditions'), get(tr, 'status.podName')]) : '';
    if (sig !== lastTask) { lastTask = sig; drawTask(); }
  }));
  onLeave(() => { if (stopLog) stopLog(); });
}

function paramsTable(title, list) {
  if (!list || !list.length) return null;
  return h('div', {}, h('h2', {}, title), h('table', {}, h('tbody', {}, list.map((p) =>
    h('tr', {}, h('th', { scope: 'row' }, p.name), h('td', {}, h('code', {}, typeof p.value === 'string' ? p.value : JSON.stringify(p.value))))))));
}

function workspaces(list) {
  if (!list || !list.length) return null;
  return h('div', {}, h('h2', {}, 'Workspaces'), h('table', {}, h('tbody', {}, list.map((w) => {
    const kind = Object.keys(w).filter((k) => k !== 'name' && k !== 'subPath')[0] || '';
    return h('tr', {}, h('th', { scope: 'row' }, w.name), h('td', {}, kind), h('td', {}, w.subPath || ''));
  }))));
}

// A step's log from the Pod's log subresource (`kubectl logs POD -c step-x [-f]`): streamed
// while the step runs, with search and download.
function logView(box, ns, pod, container, follow, filename) {
  const ctl = new AbortController();
  const pre = h('pre', { class: 'log', id: 'log', tabindex: 0, 'aria-label': `Log of ${container}`, 'aria-live': 'off' });
  const raw = [];
  const search = h('input', { type: 'search', placeholder: 'Search the log', 'aria-label': 'Search the log', oninput: () => mark() });
  const hits = h('span', { class: 'muted', 'aria-live': 'polite' });
  const state = h('span', { class: 'muted' }, follow ? 'streaming…' : '');
  const download = h('button', {
    onclick: () => {
      const url = URL.createObjectURL(new Blob([raw.join('\n') + '\n'], { type: 'text/plain' }));
      const a = h('a', { href: url, download: filename });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
  }, 'Download');
  replace(box, h('div', { class: 'actions' }, search, hits, download, state), pre);
  function mark() {
    const q = search.value;
    let n = 0;
    pre.querySelectorAll('.line').forEach((l, i) => {
      const hit = !!q && raw[i].includes(q);
      l.classList.toggle('hit', hit);
      if (hit) n++;
    });
    hits.textContent = q ? `${n} matching line${n === 1 ? '' : 's'}` : '';
  }
  function add(line) {
    raw.push(line);
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    const q = search.value;
    pre.append(h('span', { class: `line${q && line.includes(q) ? ' hit' : ''}` }, h('span', { class: 'ln' }, raw.length), ansiLine(line)));
    if (stick) pre.scrollTop = pre.scrollHeight;
  }
  (async () => {
    try {
      const r = await fetch(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log${qs({ container, follow: follow ? 'true' : '' })}`,
        { headers: headers({ Accept: 'text/plain, */*' }), signal: ctl.signal });
      if (!r.ok) throw await failure(r);
      await lines(r, add, ctl.signal);
      state.textContent = raw.length ? '' : 'empty log';
      mark();
    } catch (e) {
      if (!ctl.signal.aborted) replace(state, errorBox(e));
    }
  })();
  return () => ctl.abort();
}

// ---------------------------------------------------------------------------- listeners

// One interceptor as a line: its name (ref or the old inline kinds) and its params, a CEL
// filter shown as code (tektoncd/triggers docs/eventlisteners.md "Interceptors").
function interceptorLine(i) {
  const inline = ['cel', 'gitlab', 'github', 'bitbucket', 'slack', 'webhook'].find((k) => i && i[k]);
  const name = get(i, 'ref.name') || inline || get(i, 'name') || '(interceptor)';
  const params = (get(i, 'params', []) || []).map((p) => [p.name, p.value]);
  if (inline && typeof i[inline] === 'object') params.push(...Object.entries(i[inline]));
  const show = (v) => typeof v === 'string' ? v : JSON.stringify(v);
  return h('li', { 'data-interceptor': name }, h('strong', {}, name),
    get(i, 'ref.kind') && get(i, 'ref.kind') !== 'ClusterInterceptor' ? h('span', { class: 'muted' }, ` (${get(i, 'ref.kind')})`) : null,
    params.length ? h('dl', { class: 'facts' }, params.map(([k, v]) => [h('dt', {}, k),
      h('dd', {}, k === 'filter' || k === 'overlays' || typeof v !== 'string' ? h('code', {}, show(v)) : show(v))])) : null);
}

// A trigger (inline or a referenced Trigger object): interceptors, bindings, template.
function triggerDetails(t, name, spec) {
  const bindings = (get(spec, 'bindings', []) || []).map((b) => b.ref
    ? `${b.kind === 'ClusterTriggerBinding' ? 'ClusterTriggerBinding' : 'TriggerBinding'} ${b.ref}`
    : `${b.name} = ${b.value}`);
  const tpl = get(spec, 'template.ref') || get(spec, 'template.name') || (get(spec, 'template.spec') ? '(inline)' : '---');
  return h('div', { class: 'trigger', 'data-trigger': name },
    h('h3', {}, name, t.triggerRef ? h('span', { class: 'muted' }, ` (Trigger ${t.triggerRef})`) : null),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Interceptors'), h('dd', {}, (get(spec, 'interceptors', []) || []).length
        ? h('ol', {}, spec.interceptors.map(interceptorLine)) : 'none'),
      h('dt', {}, 'Bindings'), h('dd', {}, bindings.length ? h('ul', {}, bindings.map((b) => h('li', {}, b))) : 'none'),
      h('dt', {}, 'Template'), h('dd', {}, `TriggerTemplate ${tpl}`),
      spec && spec.serviceAccountName ? [h('dt', {}, 'ServiceAccount'), h('dd', {}, spec.serviceAccountName)] : null));
}

// What a delivery did, per trigger: created resources (runs linked), or the interceptor and
// reason that filtered or rejected it (the event record written by the listener).
function deliveryOutcomes(r, ns) {
  let trig = [];
  try { trig = JSON.parse((r.data || {})['record.json'] || '{}').triggers || []; } catch { /* an old record */ }
  if (!trig.length) return h('span', {}, get(r, 'data.message'));
  return trig.map((t) => h('div', { 'data-outcome': t.outcome || '' },
    h('strong', {}, t.trigger || '(trigger)'), ': ', t.outcome || '',
    (t.created || []).map((c) => c.kind === 'PipelineRun'
      ? h('span', {}, ' ', h('a', { href: `#/runs/${encodeURIComponent(c.namespace || ns)}/${encodeURIComponent(c.name)}` }, c.name))
      : h('span', {}, ` ${c.kind}/${c.name}`)),
    t.reason ? h('div', { class: 'muted' }, t.interceptor ? `${t.interceptor}: ` : '', t.reason) : null));
}

function listenersView(m) {
  let els = [];
  let records = [];
  let triggers = [];
  const box = h('div');
  replace(m, h('h1', {}, 'EventListeners'), box);
  function draw() {
    if (!els.length) { replace(box, h('p', { class: 'muted' }, 'No EventListeners.')); return; }
    replace(box, els.sort((a, b) => keyOf(a) < keyOf(b) ? -1 : 1).map((el) => {
      const ns = get(el, 'metadata.namespace'), name = get(el, 'metadata.name');
      const ready = (get(el, 'status.conditions', []) || []).find((c) => c.type === 'Ready');
      const recs = records.filter((r) => get(r, 'metadata.namespace') === ns && get(r, 'data.eventListener') === name)
        .sort((a, b) => (get(b, 'data.time') > get(a, 'data.time') ? 1 : -1)).slice(0, 20);
      const list = (get(el, 'spec.triggers', []) || []).map((t, i) => {
        if (t.triggerRef) {
          const obj = triggers.find((x) => get(x, 'metadata.namespace') === ns && get(x, 'metadata.name') === t.triggerRef);
          return obj ? triggerDetails(t, t.triggerRef, obj.spec || {})
            : h('div', { class: 'trigger', 'data-trigger': t.triggerRef }, h('h3', {}, t.triggerRef), h('p', { class: 'muted' }, `Trigger ${t.triggerRef} not found in ${ns}`));
        }
        return triggerDetails(t, t.name || `trigger ${i + 1}`, t);
      });
      const selectors = [['Trigger labels', get(el, 'spec.labelSelector.matchLabels', null)], ['Namespaces', get(el, 'spec.namespaceSelector.matchNames', null)]]
        .filter(([, v]) => v && (Array.isArray(v) ? v.length : Object.keys(v).length));
      return h('section', { class: 'panel', 'data-listener': `${ns}/${name}` },
        h('h2', {}, `${ns}/${name} `, ready && ready.status === 'True' ? badge('ok', 'Ready') : badge('idle', 'Not ready')),
        h('dl', { class: 'facts' }, h('dt', {}, 'URL'), h('dd', {}, h('code', {}, get(el, 'status.address.url', '---'))),
          get(el, 'spec.serviceAccountName') ? [h('dt', {}, 'ServiceAccount'), h('dd', {}, get(el, 'spec.serviceAccountName'))] : null,
          selectors.map(([k, v]) => [h('dt', {}, k), h('dd', {}, Array.isArray(v) ? v.join(', ') : Object.entries(v).map(([a, b]) => `${a}=${b}`).join(', '))])),
        h('details', { open: true }, h('summary', {}, `Triggers (${list.length})`), list.length ? list : h('p', { class: 'muted' }, 'No inline triggers.'),
          (get(el, 'spec.triggerGroups', []) || []).map((g) => h('div', { class: 'trigger', 'data-trigger-group': g.name || '' },
            h('h3', {}, `Group ${g.name || ''}`), h('ol', {}, (g.interceptors || []).map(interceptorLine)),
            h('p', {}, 'Triggers selected by labels ', h('code', {}, JSON.stringify(get(g, 'triggerSelector', {}))))))),
        h('h3', {}, 'Recent deliveries'),
        recs.length ? h('table', { class: 'deliveries' }, h('thead', {}, h('tr', {}, ['Event', 'When', 'HTTP', 'Outcome', 'Triggers'].map((c) => h('th', {}, c)))),
          h('tbody', {}, recs.map((r) => {
            const ok = /^2/.test(get(r, 'data.status'));
            return h('tr', { 'data-event': get(r, 'data.eventID') }, h('td', {}, h('code', {}, get(r, 'data.eventID'))), h('td', {}, when(get(r, 'data.time'))),
              h('td', {}, badge(ok ? 'ok' : 'bad', get(r, 'data.status'))), h('td', {}, get(r, 'data.outcome')),
              h('td', {}, deliveryOutcomes(r, ns)));
          }))) : h('p', { class: 'muted' }, 'No deliveries yet.'));
    }));
  }
  onLeave(live('/apis/triggers.tekton.dev/v1beta1/eventlisteners', {}, (xs) => { els = xs; draw(); }, (e) => replace(box, errorBox(e))));
  onLeave(live('/apis/triggers.tekton.dev/v1beta1/triggers', {}, (xs) => { triggers = xs; draw(); }, () => {}));
  onLeave(live('/api/v1/configmaps', { labelSelector: 'sluice.dev/event-record=true' }, (xs) => { records = xs; draw(); }));
}

// --------------------------------------------------------------------------- Applications

const ARGO = '/apis/argoproj.io/v1alpha1';

function dest(app) {
  return get(app, 'spec.destination.name') || get(app, 'spec.destination.server') || '';
}

function appsView(m, query) {
  const f = { project: query.get('project') || '', cluster: query.get('cluster') || '', ns: query.get('ns') || '',
    label: query.get('label') || '', sync: query.get('sync') || '', health: query.get('health') || '', q: query.get('q') || '' };
  let items = [];
  let shown = PAGE;
  const grid = h('div', { class: 'tiles', id: 'apps' });
  const count = h('span', { class: 'muted' });
  const more = h('button', { class: 'more', onclick: () => { shown += PAGE; draw(); } }, 'Show more');
  const input = (key, label) => h('label', {}, label, h('input', { value: f[key], oninput: (ev) => { f[key] = ev.target.value; setQuery(f); draw(); } }));
  const sel = (key, label, opts) => h('label', {}, label, h('select', { onchange: (ev) => { f[key] = ev.target.value; setQuery(f); draw(); } },
    ['', ...opts].map((o) => h('option', { value: o, selected: f[key] === o ? true : null }, o || 'any'))));
  replace(m, h('h1', {}, 'Applications ', count),
    h('div', { class: 'filters', role: 'search' }, input('q', 'Search'), input('project', 'Project'), input('cluster', 'Cluster'),
      input('ns', 'Namespace'), input('label', 'Labels'),
      sel('sync', 'Sync', ['Synced', 'OutOfSync', 'Unknown']), sel('health', 'Health', ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'])),
    grid, more);
  function draw() {
    const list = items.filter((a) => (!f.q || get(a, 'metadata.name').includes(f.q)) &&
      (!f.project || get(a, 'spec.project') === f.project) && (!f.cluster || dest(a).includes(f.cluster)) &&
      (!f.ns || get(a, 'spec.destination.namespace') === f.ns) && labelMatch(a, f.label) &&
      (!f.sync || get(a, 'status.sync.status', 'Unknown') === f.sync) && (!f.health || get(a, 'status.health.status', 'Unknown') === f.health))
      .sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    count.textContent = `(${list.length}${list.length === items.length ? '' : ` of ${items.length}`})`;
    replace(grid, list.slice(0, shown).map((a) => {
      const ns = get(a, 'metadata.namespace'), name = get(a, 'metadata.name');
      const sync = get(a, 'status.sync.status', 'Unknown'), health = get(a, 'status.health.status', 'Unknown');
      return h('article', { class: 'tile', 'data-app': `${ns}/${name}` },
        h('h3', {}, h('a', { href: `#/apps/${encodeURIComponent(ns)}/${encodeURIComponent(name)}` }, name)),
        h('div', { class: 'actions' }, badge(healthCls(health), health), badge(syncCls(sync), sync)),
        h('dl', {}, h('dt', {}, 'Project'), h('dd', {}, get(a, 'spec.project', 'default')),
          h('dt', {}, 'Repository'), h('dd', {}, get(a, 'spec.source.repoURL') || get(a, 'spec.sources.0.repoURL')),
          h('dt', {}, 'Path'), h('dd', {}, get(a, 'spec.source.path') || get(a, 'spec.source.chart')),
          h('dt', {}, 'Destination'), h('dd', {}, `${dest(a)} / ${get(a, 'spec.destination.namespace')}`)));
    }));
    if (!list.length) grid.append(h('p', { class: 'muted' }, items.length ? 'No application matches the filters.' : 'No Applications yet.'));
    more.hidden = list.length <= shown;
  }
  onLeave(live(`${ARGO}/applications`, {}, (xs) => { items = xs; draw(); }, (e) => replace(grid, errorBox(e))));
}

// A virtualised list: only the rows in view are in the DOM (an application with thousands
// of resources stays responsive).
function virtualList(rows, rowHeight, render) {
  const box = h('div', { class: 'vlist', role: 'list', tabindex: 0 });
  const inner = h('div');
  inner.style.height = `${rows.length * rowHeight}px`;
  box.append(inner);
  let drawn = '';
  const draw = () => {
    const top = box.scrollTop;
    const height = box.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / rowHeight) - 10);
    const last = Math.min(rows.length, Math.ceil((top + height) / rowHeight) + 10);
    const sig = `${first}:${last}`;
    if (sig === drawn) return;
    drawn = sig;
    clear(inner);
    for (let i = first; i < last; i++) {
      const r = render(rows[i], i);
      r.classList.add('row');
      r.setAttribute('role', 'listitem');
      r.style.top = `${i * rowHeight}px`;
      r.style.height = `${rowHeight}px`;
      inner.append(r);
    }
  };
  box.addEventListener('scroll', () => requestAnimationFrame(draw));
  requestAnimationFrame(draw);
  draw();
  return box;
}

// The core/v1 Events of one object (newest first), as `kubectl describe` lists them.
async function eventsOf(namespace, kind, name) {
  const list = await api(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`).catch(() => ({ items: [] }));
  return (list.items || [])
    .filter((e) => get(e, 'involvedObject.kind') === kind && get(e, 'involvedObject.name') === name)
    .sort((a, b) => String(b.lastTimestamp || b.eventTime || '').localeCompare(String(a.lastTimestamp || a.eventTime || '')))
    .slice(0, 50);
}

function eventsTable(events, id) {
  if (!events.length) return h('p', { class: 'muted' }, 'No events.');
  return h('table', { id },
    h('thead', {}, h('tr', {}, ['Type', 'Reason', 'Age', 'Message'].map((c) => h('th', {}, c)))),
    h('tbody', {}, events.map((e) => h('tr', {},
      h('td', {}, badge(e.type === 'Warning' ? 'bad' : 'idle', e.type || '')),
      h('td', {}, e.reason || ''), h('td', {}, when(e.lastTimestamp || e.eventTime)), h('td', {}, e.message || '')))));
}

// A side-by-side line diff (longest common subsequence of lines; past 2,000 lines a side
// the two texts are shown apart): removed lines on the left, added on the right, with a
// sign so that colour is not the only signal.
function lineDiff(a, b) {
  const n = a.length, m = b.length;
  if (n > 2000 || m > 2000) return null;
  const w = m + 1;
  const dp = new Uint16Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i * w + j] = a[i] === b[j] ? dp[(i + 1) * w + j + 1] + 1 : Math.max(dp[(i + 1) * w + j], dp[i * w + j + 1]);
    }
  }
  const rows = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { rows.push([' ', a[i], ' ', b[j]]); i++; j++; }
    else if (i < n && (j === m || dp[(i + 1) * w + j] >= dp[i * w + j + 1])) { rows.push(['-', a[i], '', '']); i++; }
    else { rows.push(['', '', '+', b[j]]); j++; }
  }
  return rows;
}

// Objects with their keys in one order (alphabetical, at every level), so that a diff
// shows changed values, not the two sides' key orders.
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

function diffView(left, right) {
  const a = left ? left.replace(/\n$/, '').split('\n') : [];
  const b = right.replace(/\n$/, '').split('\n');
  const rows = lineDiff(a, b);
  if (!rows) return h('div', { class: 'split' }, h('pre', { class: 'manifest' }, left), h('pre', { class: 'manifest' }, right));
  const changed = rows.filter((r) => r[0] === '-' || r[2] === '+').length;
  return h('div', {},
    h('p', { class: 'muted' }, `${changed} changed line${changed === 1 ? '' : 's'}`),
    h('table', { class: 'diff', id: 'resource-diff' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Live'), h('th', {}, ''), h('th', {}, 'Desired'))),
      h('tbody', {}, rows.map(([sa, la, sb, lb]) => h('tr', {},
        h('td', { class: sa === '-' ? 'del' : '' }, sa), h('td', { class: sa === '-' ? 'del' : '' }, h('code', {}, la)),
        h('td', { class: sb === '+' ? 'add' : '' }, sb), h('td', { class: sb === '+' ? 'add' : '' }, h('code', {}, lb)))))));
}

async function appView(m, ns, name) {
  const path = `${ARGO}/namespaces/${encodeURIComponent(ns)}/applications/${encodeURIComponent(name)}`;
  let app = await api(path);
  const head = h('div');
  const errors = h('div');
  const treeBox = h('div', { id: 'tree' });
  const side = h('div', { id: 'resource' });
  const ops = h('div');
  replace(m, head, errors, ops, h('h2', {}, 'Resources'), h('div', { class: 'split' }, treeBox, side));
  const picked = new Set();
  async function act(what, f) {
    try { await f(); replace(errors); } catch (e) { replace(errors, errorBox(`${what}: ${e.message}`)); }
  }
  const prune = h('input', { type: 'checkbox', id: 'opt-prune' });
  const dry = h('input', { type: 'checkbox', id: 'opt-dry' });
  function drawHead() {
    const sync = get(app, 'status.sync.status', 'Unknown'), health = get(app, 'status.health.status', 'Unknown');
    const conds = get(app, 'status.conditions', []) || [];
    replace(head,
      h('h1', {}, name, badge(healthCls(health), health), badge(syncCls(sync), sync)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Project'), h('dd', {}, get(app, 'spec.project', 'default')),
        h('dt', {}, 'Repository'), h('dd', {}, get(app, 'spec.source.repoURL') || get(app, 'spec.sources.0.repoURL')),
        h('dt', {}, 'Target'), h('dd', {}, `${get(app, 'spec.source.targetRevision', 'HEAD')} ${get(app, 'spec.source.path')}`),
        h('dt', {}, 'Revision'), h('dd', {}, h('code', {}, get(app, 'status.sync.revision', '---'))),
        h('dt', {}, 'Destination'), h('dd', {}, `${dest(app)} / ${get(app, 'spec.destination.namespace')}`),
        h('dt', {}, 'Auto-sync'), h('dd', {}, get(app, 'spec.syncPolicy.automated') ? 'on' : 'off')),
      conds.map((c) => h('div', { class: c.type.endsWith('Error') ? 'error' : 'notice', role: c.type.endsWith('Error') ? 'alert' : null }, `${c.type}: ${c.message || ''}`)),
      h('div', { class: 'actions' },
        h('button', { class: 'primary', id: 'sync', onclick: () => act('Sync', () => {
          const op = { sync: { prune: prune.checked, dryRun: dry.checked }, initiatedBy: { username: whoami || 'ui' } };
          if (picked.size) op.sync.resources = [...picked].map((k) => JSON.parse(k));
          return mergePatch(path, { operation: op });
        }) }, picked.size ? `Sync ${picked.size} selected` : 'Sync'),
        h('label', {}, prune, ' prune'), h('label', {}, dry, ' dry run'),
        h('button', { onclick: () => act('Refresh', () => mergePatch(path, { metadata: { annotations: { 'argocd.argoproj.io/refresh': 'normal' } } })) }, 'Refresh'),
        h('button', { class: 'danger', onclick: () => { if (confirm(`Delete Application ${name}?`)) act('Delete', async () => { await api(path, { method: 'DELETE' }); location.hash = '#/apps'; }); } }, 'Delete')));
    const st = get(app, 'status.operationState');
    const hist = (get(app, 'status.history', []) || []).slice().reverse();
    replace(ops,
      st ? h('section', {}, h('h2', {}, 'Last operation ', badge(st.phase === 'Succeeded' ? 'ok' : st.phase === 'Running' ? 'run' : 'bad', st.phase || '')),
        h('p', {}, st.message || ''),
        (get(st, 'syncResult.resources', []) || []).length ? h('table', {}, h('thead', {}, h('tr', {}, ['Phase', 'Wave', 'Kind', 'Name', 'Status', 'Message'].map((c) => h('th', {}, c)))),
          h('tbody', {}, st.syncResult.resources.map((r) => h('tr', {}, h('td', {}, r.hookPhase || r.syncPhase || ''), h('td', {}, r.syncWave ?? ''),
            h('td', {}, r.kind), h('td', {}, r.name), h('td', {}, r.status || ''), h('td', {}, r.message || ''))))) : null) : null,
      hist.length ? h('section', {}, h('h2', {}, 'History'), h('table', {}, h('thead', {}, h('tr', {}, ['ID', 'Revision', 'Deployed', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, hist.map((x) => h('tr', {}, h('td', {}, x.id), h('td', {}, h('code', {}, x.revision || '')), h('td', {}, when(x.deployedAt)),
          h('td', {}, h('button', { onclick: () => act('Rollback', () => mergePatch(path, {
            spec: { syncPolicy: { automated: null } },
            operation: { sync: { revision: x.revision, source: x.source }, initiatedBy: { username: whoami || 'ui' } },
          })) }, 'Rollback'))))))) : null);
  }
  const appEvents = h('section', {});
  append(m, [appEvents]);
  async function drawEvents() {
    const evs = await eventsOf(ns, 'Application', name);
    replace(appEvents, h('h2', {}, 'Events'), eventsTable(evs, 'app-events'));
  }
  // The tree: the app's resources at once, then (owner references) what its workloads own,
  // down to Pods. Only the kinds the app's workloads can own are listed, per namespace, all
  // at the same time; the first rows do not wait for them.
  let lastTree = '';
  let owners = { owned: new Map(), uids: new Map() };
  let treeGen = 0;
  const WORKLOADS = {
    Deployment: ['apps', 'v1', 'deployments', [['apps', 'v1', 'replicasets', 'ReplicaSet'], ['', 'v1', 'pods', 'Pod']]],
    StatefulSet: ['apps', 'v1', 'statefulsets', [['', 'v1', 'pods', 'Pod']]],
    DaemonSet: ['apps', 'v1', 'daemonsets', [['', 'v1', 'pods', 'Pod']]],
    ReplicaSet: ['apps', 'v1', 'replicasets', [['', 'v1', 'pods', 'Pod']]],
    Job: ['batch', 'v1', 'jobs', [['', 'v1', 'pods', 'Pod']]],
    CronJob: ['batch', 'v1', 'cronjobs', [['batch', 'v1', 'jobs', 'Job'], ['', 'v1', 'pods', 'Pod']]],
    Rollout: ['argoproj.io', 'v1alpha1', 'rollouts', [['apps', 'v1', 'replicasets', 'ReplicaSet'], ['', 'v1', 'pods', 'Pod']]],
  };
  async function fetchOwners(res, gen) {
    const listPath = (g, v, p, n) => `${g ? `/apis/${g}` : '/api'}/${v}/namespaces/${encodeURIComponent(n)}/${p}`;
    const jobs = new Map(); // path -> the workload kind listed for its uids, or the owned kind
    for (const r of res) {
      const w = WORKLOADS[r.kind];
      if (!w || !r.namespace) continue;
      const top = listPath(w[0], w[1], w[2], r.namespace);
      jobs.set(top, { ...(jobs.get(top) || {}), top: r.kind, ns: r.namespace });
      for (const [g, v, p, kind] of w[3]) {
        const path = listPath(g, v, p, r.namespace);
        jobs.set(path, { ...(jobs.get(path) || {}), ns: r.namespace, kind, group: g });
      }
    }
    if (!jobs.size) return;
    const lists = await Promise.all([...jobs.entries()].slice(0, 60).map(([path, j]) =>
      api(path).then((l) => [j, l.items || []]).catch(() => [j, []])));
    if (gen !== treeGen) return;
    const owned = new Map(), uids = new Map();
    for (const [j, items] of lists) {
      for (const o of items) {
        if (j.top) uids.set(`${j.top}/${j.ns}/${o.metadata.name}`, o.metadata.uid);
        for (const ref of get(o, 'metadata.ownerReferences', []) || []) {
          if (!owned.has(ref.uid)) owned.set(ref.uid, []);
          if (j.kind && !owned.get(ref.uid).some((x) => x.o === o)) owned.get(ref.uid).push({ o, kind: j.kind, group: j.group });
        }
      }
    }
    owners = { owned, uids };
    renderTree(res);
  }
  async function drawTree() {
    const res = get(app, 'status.resources', []) || [];
    const sig = JSON.stringify(res);
    if (sig === lastTree) return;
    lastTree = sig;
    treeGen += 1;
    renderTree(res);
    fetchOwners(res, treeGen);
  }
  function renderTree(res) {
    const rows = [];
    const { owned, uids } = owners;
    const walk = (o, depth, seen) => {
      for (const { o: c, kind, group } of owned.get(o.metadata.uid) || []) {
        if (seen.has(c.metadata.uid)) continue;
        seen.add(c.metadata.uid);
        const phase = get(c, 'status.phase');
        rows.push({ depth, group, kind, namespace: c.metadata.namespace, name: c.metadata.name, health: phase ? { status: phase === 'Running' || phase === 'Succeeded' ? 'Healthy' : phase === 'Failed' ? 'Degraded' : 'Progressing' } : null, owned: true });
        walk(c, depth + 1, seen);
      }
    };
    for (const r of res) {
      rows.push({ ...r, depth: 0 });
      const uid = uids.get(`${r.kind}/${r.namespace}/${r.name}`);
      if (uid) walk({ metadata: { uid } }, 1, new Set());
    }
    if (!rows.length) { replace(treeBox, h('p', { class: 'muted' }, 'No resources yet.')); return; }
    replace(treeBox, h('p', { class: 'muted' }, `${res.length} resources`), virtualList(rows, 30, (r) => {
      const key = JSON.stringify({ group: r.group || '', kind: r.kind, namespace: r.namespace || '', name: r.name });
      const health = get(r, 'health.status');
      return h('div', { 'data-resource': `${r.kind}/${r.name}` },
        h('span', { class: 'tree-indent' }, '\u00a0'.repeat(r.depth * 4)),
        r.owned ? null : h('input', { type: 'checkbox', 'aria-label': `select ${r.kind} ${r.name} for sync`, checked: picked.has(key), onchange: (ev) => { if (ev.target.checked) picked.add(key); else picked.delete(key); drawHead(); } }),
        h('span', { class: 'kind' }, r.kind),
        h('button', { class: 'link', onclick: () => showResource(r) }, r.name),
        r.namespace ? h('span', { class: 'muted' }, r.namespace) : null,
        r.status ? badge(syncCls(r.status), r.status) : null,
        health ? badge(healthCls(health), health) : null,
        r.requiresPruning ? h('span', { class: 'pill' }, 'prune') : null);
    }));
  }
  // The controller keeps the desired and live manifests of OutOfSync resources in the
  // ConfigMap sluice-diff-<app> (crates/sluice-kube/src/application/desired.rs).
  async function diffEntry(r) {
    const cm = await api(`/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps/${encodeURIComponent(`sluice-diff-${name}`)}`).catch(() => null);
    let doc = null;
    try { doc = JSON.parse((cm && cm.data && cm.data['resources.json']) || 'null'); } catch { doc = null; }
    const list = (doc && doc.resources) || [];
    return list.find((e) => e.kind === r.kind && e.name === r.name && (e.namespace || '') === (r.namespace || '') && (e.group || '') === (r.group || '')) || null;
  }
  async function showResource(r) {
    replace(side, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const isDest = !r.owned;
      const d = isDest && r.status === 'OutOfSync' ? await diffEntry(r) : null;
      let live = null;
      try {
        const version = r.version || await versionOf(r.group || '', r.kind);
        const p = await resourcePath(r.group || '', version, r.kind, r.namespace, r.name);
        live = await api(p).catch((e) => (e.status === 404 ? null : Promise.reject(e)));
      } catch (e) {
        if (!d) throw e;
      }
      // another cluster's objects are not on this API: the controller's copy stands in
      if (!live && d && d.live) live = d.live;
      if (live && live.metadata) delete live.metadata.managedFields;
      replace(side, h('div', { class: 'panel' },
        h('h2', {}, `${r.kind} ${r.name}`),
        r.health && r.health.message ? h('p', {}, r.health.message) : null,
        d ? [h('h3', {}, 'Diff (live → desired)'), diffView(d.live ? yaml(sortKeys(d.live)) : '', yaml(sortKeys(d.target)))] : null,
        d ? [h('h3', {}, 'Desired manifest'), h('pre', { class: 'manifest', tabindex: 0, id: 'desired-manifest' }, yaml(d.target))] : null,
        h('h3', {}, 'Live manifest'),
        live ? h('pre', { class: 'manifest', tabindex: 0 }, yaml(live)) : h('p', { class: 'muted' }, 'Not in the cluster (missing).'),
        h('h3', {}, 'Events'),
        r.namespace ? eventsTable(await eventsOf(r.namespace, r.kind, r.name), 'resource-events') : h('p', { class: 'muted' }, 'Cluster-scoped: no namespaced events.')));
    } catch (e) {
      replace(side, errorBox(e));
    }
  }
  drawHead();
  drawTree();
  drawEvents();
  onLeave(live(`${ARGO}/namespaces/${encodeURIComponent(ns)}/applications`, { fieldSelector: `metadata.name=${name}` }, (xs) => {
    if (xs[0]) { app = xs[0]; drawHead(); drawTree(); drawEvents(); }
  }, (e) => replace(errors, errorBox(e))));
}

// ------------------------------------------------------------------------------ Rollouts

function rolloutsView(m) {
  let items = [];
  let runs = [];
  const box = h('div');
  replace(m, h('h1', {}, 'Rollouts'), box);
  const act = async (path, patch, what) => {
    try {
      await mergePatch(`${path}/status`, patch);
    } catch (e) { box.prepend(errorBox(`${what}: ${e.message}`)); }
  };
  function promotePatch(ro) {
    const st = ro.status || {};
    if ((st.pauseConditions || []).length) return { status: { pauseConditions: null } };
    const steps = (get(ro, 'spec.strategy.canary.steps', []) || []).length;
    const i = st.currentStepIndex || 0;
    return i < steps ? { status: { currentStepIndex: i + 1 } } : { status: { promoteFull: true, pauseConditions: null, abort: null } };
  }
  function draw() {
    if (!items.length) { replace(box, h('p', { class: 'muted' }, 'No Rollouts.')); return; }
    replace(box, items.map((ro) => {
      const ns = get(ro, 'metadata.namespace'), name = get(ro, 'metadata.name');
      const path = `${ARGO}/namespaces/${encodeURIComponent(ns)}/rollouts/${encodeURIComponent(name)}`;
      const steps = get(ro, 'spec.strategy.canary.steps', []) || [];
      const cur = get(ro, 'status.currentStepIndex', 0);
      const phase = get(ro, 'status.phase', 'Unknown');
      const mine = runs.filter((r) => get(r, 'metadata.namespace') === ns && (get(r, 'metadata.labels') || {})['rollouts-pod-template-hash'] !== undefined
        && (get(r, 'metadata.ownerReferences', []) || []).some((o) => o.name === name));
      return h('section', { class: 'panel', 'data-rollout': `${ns}/${name}` },
        h('h2', {}, `${ns}/${name} `, badge(healthCls(phase), phase)),
        get(ro, 'status.message') ? h('p', {}, get(ro, 'status.message')) : null,
        h('ol', {}, steps.map((s, i) => h('li', { 'aria-current': i === cur ? 'step' : null },
          i < cur ? '✓ ' : i === cur ? '▶ ' : '○ ',
          s.setWeight !== undefined ? `set weight ${s.setWeight}%` : s.pause ? `pause${s.pause.duration ? ` ${s.pause.duration}` : ''}` : s.analysis ? `analysis ${(s.analysis.templates || []).map((t) => t.templateName).join(', ')}` : Object.keys(s)[0]))),
        h('div', { class: 'actions' },
          h('button', { onclick: () => act(path, promotePatch(ro), 'Promote') }, 'Promote'),
          h('button', { onclick: () => act(path, { status: { promoteFull: true, pauseConditions: null, abort: null } }, 'Promote full') }, 'Promote full'),
          h('button', { class: 'danger', onclick: () => act(path, { status: { abort: true } }, 'Abort') }, 'Abort')),
        mine.length ? h('div', {}, h('h3', {}, 'Analysis runs'), mine.map((r) => h('div', {},
          h('strong', {}, get(r, 'metadata.name')), ' ', badge(get(r, 'status.phase') === 'Successful' ? 'ok' : get(r, 'status.phase') === 'Running' ? 'run' : 'bad', get(r, 'status.phase', 'Pending')),
          h('table', {}, h('tbody', {}, (get(r, 'status.metricResults', []) || []).flatMap((mr) => (mr.measurements || []).map((x) =>
            h('tr', {}, h('td', {}, mr.name), h('td', {}, x.phase), h('td', {}, h('code', {}, x.value || '')), h('td', {}, when(x.finishedAt)))))))))) : null);
    }));
  }
  onLeave(live(`${ARGO}/rollouts`, {}, (xs) => { items = xs; draw(); }, (e) => replace(box, errorBox(e))));
  onLeave(live(`${ARGO}/analysisruns`, {}, (xs) => { runs = xs; draw(); }));
}

// ------------------------------------------------------------------------------ Policies

async function policiesView(m) {
  const [cp, np, reports, creports] = await Promise.all([
    api('/apis/kyverno.io/v1/clusterpolicies').catch(() => ({ items: [] })),
    api('/apis/kyverno.io/v1/policies').catch(() => ({ items: [] })),
    api('/apis/wgpolicyk8s.io/v1alpha2/policyreports').catch(() => ({ items: [] })),
    api('/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports').catch(() => ({ items: [] })),
  ]);
  const results = [...(reports.items || []), ...(creports.items || [])].flatMap((r) => r.results || []);
  const policies = [...(cp.items || []), ...(np.items || [])];
  replace(m, h('h1', {}, 'Policies'),
    policies.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Policy', 'Action', 'Rules', 'Pass', 'Fail', 'Failing resources'].map((c) => h('th', {}, c)))),
      h('tbody', {}, policies.map((p) => {
        const name = get(p, 'metadata.name');
        const mine = results.filter((r) => r.policy === name);
        const fails = mine.filter((r) => r.result === 'fail');
        return h('tr', { 'data-policy': name }, h('td', {}, name), h('td', {}, get(p, 'spec.validationFailureAction') || get(p, 'spec.rules.0.validate.failureAction') || 'Audit'),
          h('td', {}, (get(p, 'spec.rules', []) || []).length), h('td', { class: 'num' }, mine.filter((r) => r.result === 'pass').length),
          h('td', { class: 'num' }, fails.length ? badge('bad', String(fails.length)) : '0'),
          h('td', {}, fails.slice(0, 10).map((r) => h('div', {}, (r.resources || []).map((x) => `${x.kind}/${x.namespace ? `${x.namespace}/` : ''}${x.name}`).join(', '), h('span', { class: 'muted' }, ` ${r.message || ''}`)))));
      }))) : h('p', { class: 'muted' }, 'No Kyverno policies.'));
}

// --------------------------------------------------------------------------------- start

window.addEventListener('hashchange', route);
(async () => {
  if (token()) whoami = await identify().catch(() => '');
  route();
})();
