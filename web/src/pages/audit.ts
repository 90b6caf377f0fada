import { get } from '../api';
import { empty, field, navigate, table } from '../app';
import { fmtTime, h } from '../dom';

interface AuditEntry {
  seq: number;
  time: string;
  actor: string;
  actor_verified: boolean;
  action: string;
  target: string;
  before?: unknown;
  after?: unknown;
  request_id?: string;
  hash: string;
}

// auditPage reads the audit log by cursor (after = a sequence number), in
// sequence order, 50 entries a page, filtered on the server.
export async function auditPage(main: HTMLElement, _p: string[], q: URLSearchParams) {
  const after = Number(q.get('after') ?? '0') || 0;
  const query = { after, limit: 50, target: q.get('target'), actor: q.get('actor'), action: q.get('action') };
  const page = await get<{ items: AuditEntry[]; next_after: number }>('/audit', query);
  const items = page.items ?? [];
  const inputs = (['target', 'actor', 'action'] as const).map((k) => h('input', { type: 'text', name: k, value: q.get(k) ?? '', placeholder: k === 'target' ? 'churn or churn@v3' : k === 'action' ? 'alias.set' : '', 'aria-label': k }));
  const form = h('form', { class: 'filters', onsubmit: (e: Event) => {
    e.preventDefault();
    const p = new URLSearchParams();
    inputs.forEach((i) => i.value.trim() && p.set(i.name, i.value.trim()));
    navigate('/audit?' + p.toString());
  } }, field('Target', inputs[0]), field('Actor', inputs[1]), field('Action', inputs[2]), h('button', { type: 'submit', class: 'primary' }, 'Filter'));
  const more = (a: number) => {
    const p = new URLSearchParams(q);
    p.set('after', String(a));
    return '?' + p.toString();
  };
  main.append(
    h('h1', null, 'Audit log'),
    h('p', { class: 'muted' }, 'Every change, oldest first, hash-chained (verify with ', h('code', null, 'cairn audit verify'), ').'),
    form,
    items.length
      ? table(
          ['#', 'When', 'Actor', 'Action', 'Target', 'Change'],
          items.map((e) => [
            String(e.seq),
            fmtTime(e.time),
            h('span', null, e.actor, e.actor_verified ? '' : h('span', { class: 'muted' }, ' (unverified)')),
            h('code', null, e.action),
            h('code', null, e.target),
            e.before || e.after
              ? h('details', null, h('summary', null, 'before / after'), h('div', { class: 'cols' }, h('pre', null, e.before ? JSON.stringify(e.before, null, 2) : '—'), h('pre', null, e.after ? JSON.stringify(e.after, null, 2) : '—')))
              : '',
          ]),
          { id: 'audit' },
        )
      : empty('No entries.'),
    h('div', { class: 'pager' }, after > 0 ? h('a', { class: 'button', href: more(0) }, 'From the start') : null, items.length === 50 && page.next_after ? h('a', { class: 'button', href: more(page.next_after), 'data-pager': 'next' }, 'Next →') : null),
  );
}
