// The DAG of a Pipeline's tasks: a pure layout (columns by longest path from the roots,
// edges from runAfter and from result references) and its SVG rendering. Finally tasks
// sit in their own column after the rest, as Tekton runs them.

const W = 190, H = 46, GX = 60, GY = 16, PAD = 16;
const NS = 'http://www.w3.org/2000/svg';

// Task names a task depends on: runAfter, and `$(tasks.X.results...)` references in its
// params and when expressions (Tekton orders those too).
export function dependencies(task) {
  const deps = new Map();
  for (const d of task.runAfter || []) deps.set(d, false);
  const text = JSON.stringify([task.params || [], task.when || [], task.matrix || {}]);
  for (const m of text.matchAll(/\$\(tasks\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(results|status)/g)) {
    if (!deps.has(m[1])) deps.set(m[1], true);
  }
  return deps; // name -> reached only through a result reference
}

export function dagLayout(tasks, finallyTasks) {
  tasks = tasks || [];
  finallyTasks = finallyTasks || [];
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const level = new Map();
  const visiting = new Set();
  const levelOf = (name) => {
    if (level.has(name)) return level.get(name);
    if (visiting.has(name)) return 0; // a cycle: Tekton refuses it; draw it anyway
    visiting.add(name);
    let l = 0;
    for (const d of dependencies(byName.get(name)).keys()) {
      if (byName.has(d)) l = Math.max(l, levelOf(d) + 1);
    }
    visiting.delete(name);
    level.set(name, l);
    return l;
  };
  const columns = [];
  for (const t of tasks) {
    const l = levelOf(t.name);
    (columns[l] = columns[l] || []).push(t.name);
  }
  const nodes = [];
  const pos = new Map();
  columns.forEach((col, c) => col.forEach((name, r) => {
    const n = { name, x: PAD + c * (W + GX), y: PAD + r * (H + GY), finally: false };
    nodes.push(n);
    pos.set(name, n);
  }));
  const finallyCol = columns.length;
  finallyTasks.forEach((t, r) => {
    const n = { name: t.name, x: PAD + finallyCol * (W + GX) + (tasks.length ? 20 : 0), y: PAD + 18 + r * (H + GY), finally: true };
    nodes.push(n);
    pos.set('finally:' + t.name, n);
  });
  const edges = [];
  for (const t of tasks) {
    for (const [d, result] of dependencies(t)) {
      if (pos.has(d)) edges.push({ from: d, to: t.name, result });
    }
  }
  const rows = Math.max(1, ...columns.map((c) => c.length), finallyTasks.length ? finallyTasks.length + 0.5 : 0);
  const cols = columns.length + (finallyTasks.length ? 1 : 0);
  return {
    nodes, edges, finallyX: finallyTasks.length ? PAD + finallyCol * (W + GX) : null,
    width: PAD * 2 + Math.max(1, cols) * (W + GX) - GX + (finallyTasks.length ? 20 : 0),
    height: PAD * 2 + rows * (H + GY) - GY,
  };
}

function el(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + '…' : s; }

// state(name, isFinally) -> {cls, icon, word, detail}; onSelect(name, isFinally).
export function renderDag(layout, state, onSelect, selected) {
  const svg = el('svg', { width: layout.width, height: layout.height, role: 'group', 'aria-label': 'Pipeline tasks' });
  const at = new Map(layout.nodes.filter((n) => !n.finally).map((n) => [n.name, n]));
  for (const e of layout.edges) {
    const a = at.get(e.from), b = at.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    svg.append(el('path', { class: 'edge' + (e.result ? ' result' : ''), d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` },
      el('title', {}, `${e.from} → ${e.to}${e.result ? ' (result)' : ''}`)));
  }
  if (layout.finallyX !== null) {
    svg.append(el('text', { class: 'label', x: layout.finallyX + 20, y: 16 + 10 }, 'finally'));
  }
  for (const n of layout.nodes) {
    const st = state(n.name, n.finally);
    const isSel = selected && selected.name === n.name && selected.finally === n.finally;
    const g = el('g', {
      class: `node ${st.cls}${isSel ? ' selected' : ''}`, transform: `translate(${n.x},${n.y})`,
      tabindex: 0, role: 'button', 'aria-pressed': isSel ? 'true' : 'false',
      'aria-label': `${n.finally ? 'finally task' : 'task'} ${n.name}: ${st.word}${st.detail ? ', ' + st.detail : ''}`,
      'data-task': n.name, 'data-status': st.word,
      onclick: () => onSelect(n.name, n.finally),
      onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onSelect(n.name, n.finally); } },
    },
    el('rect', { width: W, height: H, rx: 8 }),
    el('text', { class: 'st', x: 10, y: 19 }, `${st.icon} ${clip(n.name, 22)}`),
    el('text', { x: 10, y: 36 }, clip(`${st.word}${st.detail ? ' · ' + st.detail : ''}`, 30)),
    el('title', {}, n.name));
    svg.append(g);
  }
  return svg;
}
