// The lineage graph: what a version or run came from (upstream) and what
// used it (downstream), laid out in columns from left (sources) to right,
// drawn as SVG. Drag to pan, wheel or the buttons to zoom, click a node
// to open it.

import { get, seg, type LineageEdge, type LineageGraph, type LineageNode } from './api';
import { navigate } from './app';
import { h, s, replace } from './dom';

export function nodeKey(n: LineageNode): string {
  return n.kind === 'run' ? `run:${n.run_id}` : `${n.model}@v${n.version}`;
}

export function nodeHref(n: LineageNode): string {
  return n.kind === 'run' ? `/runs/${seg(n.run_id ?? '')}` : `/models/${seg(n.model ?? '')}/versions/${n.version}`;
}

export async function loadLineage(ref: string, depth = 5): Promise<{ root: LineageNode; nodes: LineageNode[]; edges: LineageEdge[] }> {
  const [up, down] = await Promise.all([
    get<LineageGraph>('/lineage/' + seg(ref), { direction: 'up', depth }),
    get<LineageGraph>('/lineage/' + seg(ref), { direction: 'down', depth }),
  ]);
  const nodes = new Map<string, LineageNode>();
  const edges = new Map<string, LineageEdge>();
  for (const g of [up, down]) {
    nodes.set(nodeKey(g.root), g.root);
    for (const n of g.nodes ?? []) nodes.set(nodeKey(n), n);
    for (const e of g.edges ?? []) {
      nodes.set(nodeKey(e.from), e.from);
      nodes.set(nodeKey(e.to), e.to);
      edges.set(`${nodeKey(e.from)}|${nodeKey(e.to)}|${e.type}`, e);
    }
  }
  return { root: up.root, nodes: Array.from(nodes.values()), edges: Array.from(edges.values()) };
}

const W = 190;
const H = 44;
const GX = 90;
const GY = 26;

// layout puts each node in the column one past its furthest predecessor
// (edges point downstream), then orders each column by name.
function layout(nodes: LineageNode[], edges: LineageEdge[]) {
  const keys = nodes.map(nodeKey);
  const preds = new Map<string, string[]>(keys.map((k) => [k, []]));
  for (const e of edges) preds.get(nodeKey(e.to))?.push(nodeKey(e.from));
  const col = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (k: string): number => {
    if (col.has(k)) return col.get(k)!;
    if (visiting.has(k)) return 0; // a cycle cannot happen, but never recurse forever
    visiting.add(k);
    let d = 0;
    for (const p of preds.get(k) ?? []) d = Math.max(d, depth(p) + 1);
    visiting.delete(k);
    col.set(k, d);
    return d;
  };
  keys.forEach(depth);
  const columns = new Map<number, string[]>();
  for (const k of keys) {
    const c = col.get(k)!;
    if (!columns.has(c)) columns.set(c, []);
    columns.get(c)!.push(k);
  }
  const pos = new Map<string, { x: number; y: number }>();
  let maxRows = 0;
  for (const [, ks] of columns) maxRows = Math.max(maxRows, ks.length);
  for (const [c, ks] of columns) {
    ks.sort();
    const offset = ((maxRows - ks.length) * (H + GY)) / 2;
    ks.forEach((k, i) => pos.set(k, { x: c * (W + GX), y: offset + i * (H + GY) }));
  }
  const width = Math.max(1, columns.size) * (W + GX) - GX;
  const height = maxRows * (H + GY) - GY;
  return { pos, width, height };
}

export function lineageView(root: LineageNode, nodes: LineageNode[], edges: LineageEdge[]): HTMLElement {
  const wrap = h('div', { class: 'lineage', 'data-testid': 'lineage' });
  if (nodes.length <= 1 && edges.length === 0) {
    wrap.append(h('p', { class: 'muted' }, 'No lineage recorded: nothing this came from, nothing that used it.'));
    return wrap;
  }
  const lay = layout(nodes, edges);
  const { pos, width } = lay;
  // Room above the nodes for the edges that bow over skipped columns.
  let maxSpan = 0;
  for (const e of edges) {
    const a = pos.get(nodeKey(e.from)), b = pos.get(nodeKey(e.to));
    if (a && b) maxSpan = Math.max(maxSpan, Math.round((b.x - a.x) / (W + GX)));
  }
  const top = maxSpan > 1 ? H / 2 + GY + 12 * maxSpan + 16 : 0;
  for (const p of pos.values()) p.y += top;
  const height = lay.height + top;
  const rootKey = nodeKey(root);
  const viewH = Math.min(Math.max(height + 60, 160), 480);
  const svg = s('svg', { class: 'graph', width: '100%', height: viewH, role: 'img', 'aria-label': 'lineage graph' });
  const defs = s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' })));
  const g = s('g');
  svg.append(defs, g);

  for (const e of edges) {
    const a = pos.get(nodeKey(e.from));
    const b = pos.get(nodeKey(e.to));
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const mx = (x1 + x2) / 2;
    // An edge that skips columns bows above the nodes between its ends
    // instead of running behind them.
    const span = Math.round((b.x - a.x) / (W + GX));
    const lift = span > 1 ? Math.min(a.y, b.y) - H / 2 - GY - 12 * span : 0;
    const d = span > 1
      ? `M ${x1} ${y1} C ${x1 + GX} ${y1}, ${x1 + GX} ${lift}, ${mx} ${lift} S ${x2 - GX} ${y2}, ${x2} ${y2}`
      : `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
    const ly = span > 1 ? lift - 6 : (y1 + y2) / 2 - 6;
    g.append(
      s('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }),
      s('text', { x: mx, y: ly, class: 'edge-label', 'text-anchor': 'middle' }, e.type.replace(/_/g, ' ')),
    );
  }
  let dragged = false;
  for (const n of nodes) {
    const k = nodeKey(n);
    const p = pos.get(k)!;
    const label = n.kind === 'run' ? `run ${n.run_id}` : `${n.model}@v${n.version}`;
    const node = s(
      'g',
      {
        class: `node ${n.kind}${k === rootKey ? ' root' : ''}`,
        transform: `translate(${p.x} ${p.y})`,
        'data-node': k,
        tabindex: 0,
        role: 'link',
        'aria-label': `open ${label}`,
        onclick: () => {
          if (!dragged) navigate(nodeHref(n));
        },
        onkeydown: (ev: KeyboardEvent) => {
          if (ev.key === 'Enter') navigate(nodeHref(n));
        },
      },
      s('title', null, label),
      s('rect', { width: W, height: H, rx: 8 }),
      s('text', { x: 10, y: 18, class: 'node-kind' }, n.kind === 'run' ? 'run' : 'version'),
      s('text', { x: 10, y: 35, class: 'node-label' }, label.length > 23 ? label.slice(0, 22) + '…' : label),
    );
    g.append(node);
  }

  // Pan and zoom: one transform on the group.
  let scale = 1;
  let tx = 20;
  let ty = Math.max(20, (viewH - height) / 2);
  const apply = () => g.setAttribute('transform', `translate(${tx} ${ty}) scale(${scale})`);
  const zoomAt = (f: number, cx: number, cy: number) => {
    const ns = Math.min(4, Math.max(0.2, scale * f));
    tx = cx - ((cx - tx) * ns) / scale;
    ty = cy - ((cy - ty) * ns) / scale;
    scale = ns;
    apply();
  };
  const fit = () => {
    const box = svg.getBoundingClientRect();
    const bw = box.width || 800;
    scale = Math.min(1, (bw - 40) / Math.max(width, 1), (viewH - 40) / Math.max(height, 1));
    tx = (bw - width * scale) / 2;
    ty = (viewH - height * scale) / 2;
    apply();
  };
  apply();
  svg.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect();
    zoomAt(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
  let start: { x: number; y: number; tx: number; ty: number } | null = null;
  svg.addEventListener('pointerdown', (ev) => {
    start = { x: ev.clientX, y: ev.clientY, tx, ty };
    dragged = false;
  });
  svg.addEventListener('pointermove', (ev) => {
    if (!start) return;
    const dx = ev.clientX - start.x, dy = ev.clientY - start.y;
    if (!dragged && Math.hypot(dx, dy) < 4) return;
    dragged = true;
    svg.classList.add('dragging');
    tx = start.tx + dx;
    ty = start.ty + dy;
    apply();
  });
  const end = () => {
    start = null;
    svg.classList.remove('dragging');
  };
  svg.addEventListener('pointerup', end);
  svg.addEventListener('pointerleave', end);

  const zoom = (f: number) => () => {
    const r = svg.getBoundingClientRect();
    zoomAt(f, r.width / 2, viewH / 2);
  };
  const controls = h(
    'div',
    { class: 'graph-controls' },
    h('button', { type: 'button', onclick: zoom(1.25), title: 'zoom in', 'aria-label': 'zoom in' }, '+'),
    h('button', { type: 'button', onclick: zoom(0.8), title: 'zoom out', 'aria-label': 'zoom out' }, '−'),
    h('button', { type: 'button', onclick: fit, title: 'fit the graph', 'aria-label': 'fit' }, 'fit'),
    h('span', { class: 'muted small' }, `${nodes.length} nodes, ${edges.length} edges · drag to pan, wheel to zoom, click a node to open it`),
  );
  wrap.append(controls, svg);
  requestAnimationFrame(() => {
    if (svg.getBoundingClientRect().width > 0 && width > svg.getBoundingClientRect().width - 40) fit();
  });
  return wrap;
}

export async function lineageSection(host: HTMLElement, ref: string) {
  try {
    const { root, nodes, edges } = await loadLineage(ref);
    replace(host, lineageView(root, nodes, edges));
  } catch (e) {
    replace(host, h('p', { class: 'error' }, 'Lineage unavailable: ', String((e as Error).message)));
  }
}
