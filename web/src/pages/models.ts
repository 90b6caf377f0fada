import { call, can, fkey, fstr, get, modelPath, type AliasMove, type Model, type MoveOrigin, type Page, type Version } from '../api';
import { actionButton, empty, errorBox, field, flash, link, navigate, notice, pager, parseTags, section, state, table, tagsText } from '../app';
import { badge, fmtNum, fmtTime, h, kv, replace, tagChips } from '../dom';
import { renderMarkdown } from '../markdown';

const kinds = ['model', 'dataset', 'prompt', 'evaluation', 'other'];

// buildModelFilter turns the search form into the filter grammar.
export function buildModelFilter(q: URLSearchParams): string {
  const parts: string[] = [];
  const text = (q.get('q') ?? '').trim();
  if (text) parts.push(`name ILIKE ${fstr('%' + text + '%')}`);
  for (const t of q.getAll('tag')) {
    const s = t.trim();
    if (!s) continue;
    const i = s.indexOf('=');
    if (i < 0) parts.push(`tags.${fkey(s)} LIKE '%'`);
    else parts.push(`tags.${fkey(s.slice(0, i).trim())} = ${fstr(s.slice(i + 1).trim())}`);
  }
  const kind = q.get('kind');
  if (kind) parts.push(`kind = ${fstr(kind)}`);
  if (q.get('archived') !== '1') parts.push('archived = false');
  const adv = (q.get('filter') ?? '').trim();
  if (adv) parts.push(`(${adv})`);
  return parts.join(' AND ');
}

export async function modelsPage(main: HTMLElement, _p: string[], q: URLSearchParams) {
  const filter = buildModelFilter(q);
  const page = await get<Page<Model>>('/models', { filter, order_by: q.get('order') || 'name', page_size: 50, page_token: q.get('page_token') });
  const search = h('input', { type: 'search', name: 'q', value: q.get('q') ?? '', placeholder: 'name contains…', 'aria-label': 'search models by name' });
  const tag = h('input', { type: 'text', name: 'tag', value: q.get('tag') ?? '', placeholder: 'team=fraud', 'aria-label': 'tag filter' });
  const kind = h('select', { name: 'kind', 'aria-label': 'kind' }, h('option', { value: '' }, 'any kind'), kinds.map((k) => h('option', { value: k }, k)));
  kind.value = q.get('kind') ?? '';
  const archived = h('input', { type: 'checkbox', name: 'archived', value: '1', checked: q.get('archived') === '1' });
  const adv = h('input', { type: 'text', name: 'filter', value: q.get('filter') ?? '', placeholder: "metrics.auc > 0.9 OR tags.stage = 'prod'", class: 'wide', 'aria-label': 'filter expression' });
  const order = h('select', { name: 'order', 'aria-label': 'order' }, [
    ['name', 'name'],
    ['updated_at DESC', 'recently updated'],
    ['created_at DESC', 'newest'],
  ].map(([v, l]) => h('option', { value: v }, l)));
  order.value = q.get('order') || 'name';
  const form = h(
    'form',
    {
      class: 'filters',
      id: 'model-search',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const p = new URLSearchParams();
        for (const [k, v] of new FormData(form).entries()) if (String(v).trim() !== '' && !(k === 'order' && v === 'name')) p.append(k, String(v));
        navigate('/models?' + p.toString());
      },
    },
    search,
    field('Tag', tag),
    field('Kind', kind),
    h('label', { class: 'check' }, archived, ' include archived'),
    field('Filter', adv),
    field('Order', order),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
  );
  main.append(
    h('div', { class: 'title' }, h('h1', null, 'Models'), can(state.me, 'writer') ? h('button', { type: 'button', onclick: () => showCreate(createHost) }, 'New model') : null),
  );
  const createHost = h('div');
  main.append(createHost, form, h('p', { class: 'muted small' }, 'filter: ', h('code', null, filter || '(none)')));
  if (page.items.length === 0) {
    main.append(empty('No models match.'));
  } else {
    main.append(
      table(
        ['Name', 'Kind', 'Description', 'Tags', 'Latest', 'Aliases', 'Updated'],
        page.items.map((m) => [
          h('span', null, link(modelPath(m.name), m.name), m.archived ? badge('archived', 'gray') : null),
          m.kind,
          h('span', { class: 'clip' }, firstLine(m.description)),
          tagChips(m.tags),
          m.latest_version ? link(modelPath(m.name) + '/versions/' + m.latest_version, `v${m.latest_version}`) : '—',
          h('span', { class: 'tags' }, Object.entries(m.aliases ?? {}).sort().map(([a, v]) => h('span', { class: 'alias' }, `${a} → v${v}`))),
          fmtTime(m.updated_at),
        ]),
        { id: 'models' },
      ),
    );
  }
  main.append(pager(q, page.next_page_token));
}

function firstLine(s: string): string {
  const l = (s ?? '').split('\n').find((x) => x.trim() !== '') ?? '';
  return l.replace(/^#+\s*/, '').slice(0, 140);
}

function showCreate(host: HTMLElement) {
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 256 });
  const kind = h('select', { name: 'kind' }, kinds.map((k) => h('option', { value: k }, k)));
  const desc = h('textarea', { name: 'description', rows: 4, placeholder: 'Markdown' });
  const tags = h('textarea', { name: 'tags', rows: 2, placeholder: 'team=fraud' });
  const out = h('div');
  const form = h(
    'form',
    {
      class: 'card',
      id: 'create-model',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          const m = await call<Model>('POST', '/models', { body: { name: name.value.trim(), kind: kind.value, description: desc.value, tags: parseTags(tags.value) } });
          navigate(modelPath(m.name));
          flash(`Created model ${m.name}.`);
        } catch (err) {
          replace(out, errorBox(err));
        }
      },
    },
    h('h2', null, 'New model'),
    out,
    field('Name', name),
    field('Kind', kind),
    field('Description', desc),
    field('Tags', tags, 'one key=value per line'),
    h('button', { type: 'submit', class: 'primary' }, 'Create'),
    h('button', { type: 'button', onclick: () => replace(host) }, 'Cancel'),
  );
  replace(host, form);
}

export async function modelPage(main: HTMLElement, [name]: string[], q: URLSearchParams) {
  const vfilter = q.get('vfilter') ?? '';
  const [model, versions, history] = await Promise.all([
    get<Model>(modelPath(name)),
    get<Page<Version>>(modelPath(name) + '/versions', { page_size: 50, page_token: q.get('page_token'), filter: vfilter }),
    get<Page<AliasMove>>(modelPath(name) + '/alias-history', { page_size: 20, page_token: q.get('h_page_token') }),
  ]);
  const me = state.me;
  const reload = () => navigate(location.pathname.slice(3) + location.search, true);

  const header = h(
    'div',
    { class: 'title' },
    h('h1', null, model.name),
    badge(model.kind, 'kind'),
    model.archived ? badge('archived', 'gray') : null,
    h('span', { class: 'spacer' }),
    can(me, 'maintainer', name)
      ? model.archived
        ? actionButton('Restore', async () => {
            await call('POST', modelPath(name) + '/restore');
            flash(`Restored ${name}.`);
            reload();
          })
        : actionButton('Archive', async () => {
            await call('POST', modelPath(name) + '/archive');
            flash(`Archived ${name}.`);
            reload();
          }, { confirm: `Archive ${name}? No new versions can be pushed until it is restored.` })
      : null,
  );
  main.append(header, h('p', { class: 'muted' }, `created by ${model.created_by} at ${fmtTime(model.created_at)}, updated ${fmtTime(model.updated_at)}`));

  // Description and tags, editable by writers.
  const about = h('section', { class: 'card', id: 'about' });
  const showAbout = () => {
    replace(
      about,
      h('div', { class: 'title' }, h('h2', null, 'About'), h('span', { class: 'spacer' }), can(me, 'writer', name) ? h('button', { type: 'button', onclick: editAbout }, 'Edit') : null),
      model.description ? renderMarkdown(model.description) : h('p', { class: 'muted' }, 'No description.'),
      h('div', null, 'Tags: ', Object.keys(model.tags).length ? tagChips(model.tags) : h('span', { class: 'muted' }, 'none')),
    );
  };
  const editAbout = () => {
    const desc = h('textarea', { rows: 8, value: model.description, name: 'description' });
    const tags = h('textarea', { rows: 4, value: tagsText(model.tags), name: 'tags' });
    const out = h('div');
    replace(
      about,
      h('h2', null, 'Edit description and tags'),
      out,
      field('Description (Markdown)', desc),
      field('Tags', tags, 'one key=value per line; remove a line to delete the tag'),
      actionButton('Save', async () => {
        const next = parseTags(tags.value);
        const del = Object.keys(model.tags).filter((k) => !(k in next));
        const m = await call<Model>('PATCH', modelPath(name), { body: { description: desc.value, set_tags: next, delete_tags: del } });
        Object.assign(model, m);
        showAbout();
        flash('Saved.');
      }, { class: 'primary', out }),
      h('button', { type: 'button', onclick: showAbout }, 'Cancel'),
    );
  };
  showAbout();
  main.append(about);

  // Aliases.
  const aliasOut = h('div');
  const aliasRows = Object.entries(model.aliases ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const aliasSec = section(
    'Aliases',
    aliasOut,
    aliasRows.length
      ? table(['Alias', 'Version', ''], aliasRows.map(([a, v]) => [h('code', null, `${name}@${a}`), link(modelPath(name) + '/versions/' + v, `v${v}`), can(me, 'maintainer', name) ? actionButton('Delete', async () => {
          await call('DELETE', modelPath(name) + '/aliases/' + encodeURIComponent(a), { body: undefined });
          flash(`Deleted alias ${a}.`);
          reload();
        }, { confirm: `Delete alias ${a}?`, out: aliasOut, class: 'small' }) : '']), { id: 'aliases' })
      : empty('No aliases.'),
    can(me, 'maintainer', name) ? aliasForm(name, model, aliasOut, reload) : null,
  );
  main.append(aliasSec);

  // Versions.
  const vf = h('input', { type: 'text', name: 'vfilter', value: vfilter, placeholder: "metrics.auc > 0.9 AND tags.stage = 'prod'", class: 'wide', 'aria-label': 'version filter' });
  const compareBtn = h('button', { type: 'button', onclick: () => {
    // Oldest first: the baseline is the earliest selected version.
    const refs = Array.from(main.querySelectorAll<HTMLInputElement>('input[name=cmp]:checked'))
      .map((c) => c.value)
      .sort((a, b) => Number(a.split('@v').pop()) - Number(b.split('@v').pop()));
    if (refs.length < 2) {
      flash('Select two or more versions to compare.', 'warn');
      return;
    }
    navigate('/compare?' + refs.map((r) => 'v=' + encodeURIComponent(r)).join('&'));
  } }, 'Compare selected');
  const metricKeys = Array.from(new Set(versions.items.flatMap((v) => Object.keys(v.metrics ?? {})))).sort().slice(0, 4);
  main.append(
    section(
      'Versions',
      h('form', { class: 'filters', onsubmit: (e: Event) => {
        e.preventDefault();
        const p = new URLSearchParams();
        if (vf.value.trim()) p.set('vfilter', vf.value.trim());
        navigate(modelPath(name) + '?' + p.toString());
      } }, field('Filter', vf), h('button', { type: 'submit' }, 'Filter'), compareBtn),
      versions.items.length
        ? table(
            ['', 'Version', 'Status', 'Aliases', 'Approval', ...metricKeys.map((k) => h('span', { title: k }, k)), 'Created by', 'Created at'],
            versions.items.map((v) => [
              h('input', { type: 'checkbox', name: 'cmp', value: `${v.model}@v${v.version}`, 'aria-label': `compare v${v.version}` }),
              link(modelPath(name) + '/versions/' + v.version, `v${v.version}`),
              h('span', null, badge(v.status, v.status), v.archived ? badge('archived', 'gray') : null),
              h('span', { class: 'tags' }, (v.aliases ?? []).map((a) => h('span', { class: 'alias' }, a))),
              approvalBadge(v),
              ...metricKeys.map((k) => (v.metrics?.[k] !== undefined ? fmtNum(v.metrics[k]) : '')),
              h('span', null, v.created_by, v.created_by_verified ? '' : h('span', { class: 'muted', title: 'declared with auth off' }, ' (unverified)')),
              fmtTime(v.created_at),
            ]),
            { id: 'versions' },
          )
        : empty('No versions.'),
      pager(q, versions.next_page_token),
    ),
  );

  // Alias history.
  main.append(
    section(
      'Alias history',
      history.items.length
        ? table(
            ['When', 'Alias', 'Move', 'By', 'Origin', 'Request'],
            history.items.map((m) => [
              fmtTime(m.at),
              m.alias,
              m.to_version ? (m.from_version ? `v${m.from_version} → v${m.to_version}` : `set to v${m.to_version}`) : `deleted (was v${m.from_version})`,
              m.actor,
              originCell(m.origin),
              h('code', { class: 'muted' }, m.request_id ?? ''),
            ]),
            { id: 'alias-history' },
          )
        : empty('No alias has moved yet.'),
      pager(q, history.next_page_token, 'page_token', 'h_'),
    ),
  );
}

// originCell shows where an imported move was first made: the system, the
// move's name there (a GTO git tag), and who made it when, as that system
// recorded it. Cairn's own When and By stay in their columns.
function originCell(o: MoveOrigin | undefined): HTMLElement | string {
  if (!o) return '';
  return h(
    'span',
    { class: 'origin' },
    badge(o.system, 'gray'),
    o.ref ? [' ', h('code', null, o.ref)] : '',
    h('div', { class: 'muted small' }, [o.actor ? `by ${o.actor}` : '', o.at ? fmtTime(o.at) : ''].filter(Boolean).join(', ')),
  );
}

export function approvalBadge(v: Version): HTMLElement | string {
  const s = v.approval_status;
  if (!s || s === 'none') return h('span', { class: 'muted' }, '—');
  return badge(s, s === 'approved' ? 'ready' : s === 'rejected' ? 'failed' : 'pending');
}

// aliasForm sets or moves an alias. A protected alias answers 409
// pending_approval: the request is opened and the alias has not moved.
export function aliasForm(name: string, model: Model, out: HTMLElement, reload: () => void, version?: number): HTMLElement {
  const alias = h('input', { type: 'text', name: 'alias', required: true, placeholder: 'champion', list: 'alias-names', 'aria-label': 'alias' });
  const ver = h('input', { type: 'number', name: 'version', min: 1, required: true, value: version ?? model.latest_version ?? '', 'aria-label': 'version' });
  const cas = h('input', { type: 'checkbox', name: 'cas', checked: true });
  const datalist = h('datalist', { id: 'alias-names' }, Object.keys(model.aliases ?? {}).map((a) => h('option', { value: a })));
  return h(
    'form',
    {
      class: 'inline-form',
      id: 'alias-form',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const a = alias.value.trim();
        const body: Record<string, unknown> = { version: Number(ver.value) };
        const cur = model.aliases?.[a];
        if (cas.checked) body.if_current = cur ?? 0;
        try {
          await call('PUT', modelPath(name) + '/aliases/' + encodeURIComponent(a), { body });
          flash(`${name}@${a} now points at v${ver.value}.`);
          reload();
        } catch (err: any) {
          if (err?.code === 'pending_approval') {
            const id = err?.body?.approval_request;
            replace(out, notice([`${name}@${a} is protected: the alias has not moved; approval request ${id ?? ''} is open. `, h('a', { href: '/ui/approvals?model=' + encodeURIComponent(name) }, 'See the approvals queue.')], 'warn'));
            return;
          }
          replace(out, errorBox(err));
        }
      },
    },
    datalist,
    h('strong', null, 'Set or move an alias: '),
    alias,
    ' → v',
    ver,
    h('label', { class: 'check', title: 'compare-and-swap: move only if the alias still points where this page saw it' }, cas, ' only if unchanged'),
    h('button', { type: 'submit', class: 'primary' }, 'Set alias'),
  );
}

export { kv };
