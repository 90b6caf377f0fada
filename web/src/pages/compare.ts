import { get, seg, versionPath, type Version } from '../api';
import { empty, field, link, navigate, section } from '../app';
import { fmtBytes, fmtNum, fmtTime, h, shortDigest, type Child } from '../dom';
import { refLink } from './version';

// comparePage shows two or more versions side by side. The first is the
// baseline: metric deltas are against it.
export async function comparePage(main: HTMLElement, _p: string[], q: URLSearchParams) {
  const refs = q.getAll('v').filter((r) => r.trim() !== '');
  const input = h('input', { type: 'text', name: 'refs', value: refs.join(' '), placeholder: 'churn@v1 churn@v2 churn@champion', class: 'wide', 'aria-label': 'references' });
  main.append(
    h('h1', null, 'Compare versions'),
    h('form', { class: 'filters', onsubmit: (e: Event) => {
      e.preventDefault();
      const rs = input.value.split(/[\s,]+/).filter(Boolean);
      navigate('/compare?' + rs.map((r) => 'v=' + encodeURIComponent(r)).join('&'));
    } }, field('References', input, 'two or more, e.g. churn@v1 churn@v2; the first is the baseline'), h('button', { type: 'submit', class: 'primary' }, 'Compare')),
  );
  if (refs.length < 2) {
    main.append(empty('Give two or more versions to compare.'));
    return;
  }
  const vs = await Promise.all(refs.map((r) => get<Version>('/resolve/' + seg(r))));
  const base = vs[0];
  const head = () => ['', ...vs.map((v, i) => h('span', null, link(versionPath(v.model, v.version), `${v.model}@v${v.version}`), i === 0 ? h('span', { class: 'muted small' }, ' (baseline)') : null))];

  const grid = (id: string, rows: Child[][]) =>
    h('table', { class: 'grid compare', id }, h('thead', null, h('tr', null, head().map((x) => h('th', null, x)))), h('tbody', null, rows.map((r) => h('tr', { class: r.length && (r as any).differs ? 'differs' : '' }, r.map((c, i) => (i === 0 ? h('th', null, c) : h('td', null, c)))))));

  // Overview.
  const fields: [string, (v: Version) => Child][] = [
    ['Status', (v) => v.status + (v.archived ? ' (archived)' : '')],
    ['Aliases', (v) => (v.aliases ?? []).join(', ')],
    ['Created', (v) => `${fmtTime(v.created_at)} by ${v.created_by}`],
    ['Digest', (v) => h('code', { title: v.digest }, shortDigest(v.digest))],
    ['Size', (v) => fmtBytes(v.size)],
    ['Run', (v) => (v.run_id ? link('/runs/' + seg(v.run_id), v.run_id) : '')],
    ['Framework', (v) => v.framework ?? ''],
    ['Code version', (v) => v.source_code_version ?? ''],
    ['Training data', (v) => refLink(v.training_dataset)],
    ['Validation data', (v) => refLink(v.validation_dataset)],
  ];
  main.append(section('Overview', grid('compare-overview', fields.map(([k, f]) => [k, ...vs.map(f)]))));

  // Metrics with deltas against the baseline.
  const mkeys = Array.from(new Set(vs.flatMap((v) => Object.keys(v.metrics ?? {})))).sort();
  const mrows = mkeys.map((k) => {
    const b = base.metrics?.[k];
    return [
      h('code', null, k),
      ...vs.map((v, i) => {
        const x = v.metrics?.[k];
        if (x === undefined) return h('span', { class: 'muted' }, '—');
        if (i === 0 || b === undefined) return fmtNum(x);
        const d = x - b;
        const cls = d > 0 ? 'up' : d < 0 ? 'down' : 'same';
        const pct = b !== 0 ? ` (${d >= 0 ? '+' : '−'}${Math.abs((d / Math.abs(b)) * 100).toFixed(1)}%)` : '';
        return h('span', null, fmtNum(x), ' ', h('span', { class: `delta ${cls}`, 'data-delta': String(d) }, `${d > 0 ? '+' : d < 0 ? '−' : '±'}${fmtNum(Math.abs(d))}${pct}`));
      }),
    ];
  });
  main.append(section('Metrics', mkeys.length ? grid('compare-metrics', mrows) : empty('No metrics.'), h('p', { class: 'muted small' }, 'Deltas are against the baseline (first column). Whether higher is better depends on the metric.')));

  // Params: rows that differ are marked.
  const pkeys = Array.from(new Set(vs.flatMap((v) => Object.keys(v.params ?? {})))).sort();
  const prows = pkeys.map((k) => {
    const vals = vs.map((v) => v.params?.[k]);
    const row: Child[] & { differs?: boolean } = [h('code', null, k), ...vals.map((x) => (x === undefined ? h('span', { class: 'muted' }, '—') : x))];
    row.differs = new Set(vals.map((x) => x ?? '\u0000')).size > 1;
    return row;
  });
  main.append(section('Params', pkeys.length ? grid('compare-params', prows) : empty('No params.')));

  // Files changed, each version against the baseline.
  const baseFiles = new Map(base.files.map((f) => [f.path, f]));
  main.append(
    section(
      'Files changed',
      vs.slice(1).map((v) => {
        const cur = new Map(v.files.map((f) => [f.path, f]));
        const rows: Child[][] = [];
        for (const f of v.files) {
          const o = baseFiles.get(f.path);
          if (!o) rows.push([h('span', { class: 'added' }, 'added'), h('code', null, f.path), '', fmtBytes(f.size)]);
          else if (o.digest !== f.digest) rows.push([h('span', { class: 'changed' }, 'changed'), h('code', null, f.path), fmtBytes(o.size), fmtBytes(f.size)]);
        }
        for (const f of base.files) if (!cur.has(f.path)) rows.push([h('span', { class: 'removed' }, 'removed'), h('code', null, f.path), fmtBytes(f.size), '']);
        const same = v.files.filter((f) => baseFiles.get(f.path)?.digest === f.digest).length;
        return h(
          'div',
          { class: 'files-diff' },
          h('h3', null, `${base.model}@v${base.version} → ${v.model}@v${v.version}`),
          rows.length
            ? h('table', { class: 'grid compact' }, h('thead', null, h('tr', null, ['', 'Path', 'Before', 'After'].map((x) => h('th', null, x)))), h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))))
            : empty('Same files.'),
          h('p', { class: 'muted small' }, `${same} unchanged`),
        );
      }),
    ),
  );
}
