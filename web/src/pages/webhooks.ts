import { call, can, get, seg } from '../api';
import { actionButton, empty, flash, link, navigate, section, state, table } from '../app';
import { badge, fmtTime, h, kv } from '../dom';

interface Webhook {
  id: string;
  url: string;
  event_types?: string[];
  model?: string;
  alias?: string;
  description?: string;
  active: boolean;
  // The names of the custom request headers sent with every delivery; the
  // API never returns their values.
  header_names?: string[];
  created_by: string;
  created_at: string;
  delivery?: { cursor: number; head_seq?: number; attempts?: number; first_attempt?: string; next_attempt?: string };
}

interface Delivery {
  id: number;
  event_seq: number;
  event_type: string;
  attempt: number;
  redelivery?: boolean;
  time: string;
  outcome: string;
  status_code?: number;
  latency_ms: number;
  error?: string;
}

interface DeadLetter {
  event_seq: number;
  event_type: string;
  status: string;
  attempts: number;
  last_error?: string;
  dead_at: string;
}

// headerNames lists a subscription's custom header names (never values).
function headerNames(w: Webhook): HTMLElement {
  return h('span', { class: 'header-names', 'data-header-names': w.id }, (w.header_names ?? []).map((n, i) => [i ? ', ' : '', h('code', null, n)]));
}

export async function webhooksPage(main: HTMLElement) {
  const list = await get<{ items: Webhook[] }>('/webhooks');
  main.append(
    h('h1', null, 'Webhooks'),
    h('p', { class: 'muted' }, 'Subscriptions to the event feed. Create them with ', h('code', null, 'cairn webhooks create'), ' (the signing secret is shown once).'),
    (list.items ?? []).length
      ? table(
          ['Id', 'URL', 'Events', 'Model', 'Alias', 'Headers', 'Active', 'Created'],
          list.items.map((w) => [link('/webhooks/' + seg(w.id), w.id), h('code', null, w.url), (w.event_types ?? ['*']).join(', '), w.model ?? '', w.alias ?? '', headerNames(w), w.active ? 'yes' : badge('inactive', 'gray'), fmtTime(w.created_at)]),
          { id: 'webhooks' },
        )
      : empty('No webhooks.'),
  );
}

export async function webhookPage(main: HTMLElement, [id]: string[], q: URLSearchParams) {
  const before = Number(q.get('before') ?? '0') || 0;
  const [w, deliveries, dead] = await Promise.all([
    get<Webhook>('/webhooks/' + seg(id)),
    get<{ items: Delivery[]; next_before: number }>('/webhooks/' + seg(id) + '/deliveries', { limit: 50, before: before || undefined }),
    get<{ items: DeadLetter[] }>('/webhooks/' + seg(id) + '/dead-letters', { limit: 100 }),
  ]);
  const reload = () => navigate(location.pathname.slice(3) + location.search, true);
  const d = w.delivery;
  main.append(
    h('p', { class: 'crumbs' }, link('/webhooks', 'Webhooks'), ' / ', w.id),
    h('div', { class: 'title' }, h('h1', null, `Webhook ${w.id}`), w.active ? badge('active', 'ready') : badge('inactive', 'gray'), h('span', { class: 'spacer' }),
      can(state.me, 'admin') ? actionButton('Send test ping', async () => {
        const r = await call<Delivery>('POST', '/webhooks/' + seg(id) + '/test');
        flash(`Test ping: ${r.outcome}${r.status_code ? ' ' + r.status_code : ''}${r.error ? ' — ' + r.error : ''}`, r.outcome === 'delivered' ? 'ok' : 'warn');
        reload();
      }) : null),
    section(
      'Subscription',
      kv([
        ['URL', h('code', null, w.url)],
        ['Events', (w.event_types ?? ['all']).join(', ')],
        ['Model', w.model ?? ''],
        ['Alias', w.alias ?? ''],
        ['Headers', (w.header_names ?? []).length ? h('span', null, headerNames(w), h('div', { class: 'muted small' }, 'values are write-only: set or replace them with cairn webhooks update --header')) : ''],
        ['Description', w.description ?? ''],
        ['Created', `${fmtTime(w.created_at)} by ${w.created_by}`],
        ['Cursor', d ? String(d.cursor) : ''],
        ['Retrying event', d?.head_seq ? `#${d.head_seq}, ${d.attempts} attempt(s), next ${fmtTime(d.next_attempt)}` : ''],
      ]),
    ),
    section(
      'Deliveries',
      (deliveries.items ?? []).length
        ? table(
            ['When', 'Event', 'Type', 'Attempt', 'Outcome', 'Status', 'Latency', 'Error'],
            deliveries.items.map((x) => [fmtTime(x.time), `#${x.event_seq}`, x.event_type, String(x.attempt) + (x.redelivery ? ' (redelivery)' : ''), badge(x.outcome, x.outcome === 'delivered' ? 'ready' : 'failed'), x.status_code ? String(x.status_code) : '', `${x.latency_ms} ms`, x.error ?? '']),
            { id: 'deliveries' },
          )
        : empty('No delivery attempts yet.'),
      h('div', { class: 'pager' }, before ? h('a', { class: 'button', href: '?' }, 'Newest') : null, deliveries.next_before ? h('a', { class: 'button', href: '?before=' + deliveries.next_before, 'data-pager': 'next' }, 'Older →') : null),
    ),
    section(
      'Dead letters',
      (dead.items ?? []).length
        ? table(['Event', 'Type', 'Status', 'Attempts', 'Last error', 'Dead since'], dead.items.map((x) => [`#${x.event_seq}`, x.event_type, x.status, String(x.attempts), x.last_error ?? '', fmtTime(x.dead_at)]), { id: 'dead-letters' })
        : empty('None.'),
      can(state.me, 'admin') && dead.items.some((x) => x.status === 'dead')
        ? actionButton('Redeliver all dead letters', async () => {
            await call('POST', '/webhooks/' + seg(id) + '/redeliver', { body: {} });
            flash('Queued for redelivery.');
            reload();
          })
        : null,
    ),
  );
}
