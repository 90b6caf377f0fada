import { authHeaders, call, can, get, modelPath, seg, session, versionPath, type Model, type Version } from '../api';
import { actionButton, empty, field, flash, link, navigate, section, state, table, tagsText, parseTags } from '../app';
import { badge, fmtBytes, fmtNum, fmtTime, h, kv, replace, tagChips, type Child } from '../dom';
import { lineageSection } from '../lineage';
import { renderMarkdown } from '../markdown';
import { aliasForm, approvalBadge } from './models';

// refLink links NAME@vN references to their version page; other values
// (URIs) stay text.
export function refLink(ref: string | undefined): Child {
  if (!ref) return '';
  const m = /^(.+)@v(\d+)$/.exec(ref);
  if (m && !ref.includes('://')) return link(versionPath(m[1], m[2]), ref);
  return h('code', null, ref);
}

function mapTable(m: Record<string, string | number> | undefined, id: string, num = false): HTMLElement {
  const keys = Object.keys(m ?? {}).sort();
  if (keys.length === 0) return h('span', { class: 'muted' }, 'none');
  return table(['Key', 'Value'], keys.map((k) => [h('code', null, k), num ? fmtNum(m![k] as number) : String(m![k])]), { id, class: 'grid compact' });
}

export async function versionPage(main: HTMLElement, [name, num]: string[]) {
  const n = num.replace(/^v/, '');
  const [v, model] = await Promise.all([get<Version>(versionPath(name, n)), get<Model>(modelPath(name))]);
  const me = state.me;
  const ref = `${v.model}@v${v.version}`;
  const reload = () => navigate(location.pathname.slice(3) + location.search, true);

  main.append(
    h('p', { class: 'crumbs' }, link('/', 'Models'), ' / ', link(modelPath(name), name), ' / ', `v${v.version}`),
    h(
      'div',
      { class: 'title' },
      h('h1', null, ref),
      badge(v.kind, 'kind'),
      badge(v.status, v.status),
      v.archived ? badge('archived', 'gray') : null,
      v.stage && v.stage !== 'None' ? badge(`stage ${v.stage}`, 'gray') : null,
      (v.aliases ?? []).map((a) => badge('@' + a, 'alias')),
      h('span', { class: 'spacer' }),
      v.version > 1 ? link(`/compare?v=${encodeURIComponent(`${name}@v${v.version - 1}`)}&v=${encodeURIComponent(ref)}`, `Compare with v${v.version - 1}`) : null,
      can(me, 'maintainer', name)
        ? v.archived
          ? actionButton('Restore', async () => {
              await call('POST', versionPath(name, v.version) + '/restore');
              flash(`Restored ${ref}.`);
              reload();
            })
          : actionButton('Archive', async () => {
              const removeAliases = (v.aliases ?? []).length > 0 && window.confirm(`${ref} is the target of ${v.aliases.map((a) => '@' + a).join(', ')}. Remove those aliases too? (Cancel archives nothing.)`);
              if ((v.aliases ?? []).length > 0 && !removeAliases) return;
              await call('POST', versionPath(name, v.version) + '/archive', { body: removeAliases ? { remove_aliases: true } : {} });
              flash(`Archived ${ref}.`);
              reload();
            })
        : null,
    ),
    v.status_message ? h('p', { class: 'error' }, v.status_message) : '',
  );

  // The whole record.
  main.append(
    section(
      'Record',
      kv([
        ['Model', link(modelPath(name), v.model)],
        ['Version', String(v.version)],
        ['Kind', v.kind],
        ['Status', v.status],
        ['Approval', approvalBadge(v)],
        ['Archived', v.archived ? 'yes' : 'no'],
        ['Stage', v.stage],
        ['Aliases', (v.aliases ?? []).join(', ')],
        ['Digest', h('code', null, v.digest)],
        ['Size', `${fmtBytes(v.size)} (${v.size} bytes) in ${v.files.length} file${v.files.length === 1 ? '' : 's'}`],
        ['Run', v.run_id ? link('/runs/' + seg(v.run_id), v.run_id) : ''],
        ['Source', v.source ? h('code', null, v.source) : ''],
        ['Code version', v.source_code_version ? h('code', null, v.source_code_version) : ''],
        ['Training data', refLink(v.training_dataset)],
        ['Validation data', refLink(v.validation_dataset)],
        ['Derived from', (v.derived_from ?? []).map((r, i) => [i ? ', ' : '', refLink(r)])],
        ['Inputs', (v.inputs ?? []).map((r, i) => [i ? ', ' : '', refLink(r)])],
        ['Framework', v.framework ?? ''],
        ['Trained by', v.trained_by ?? ''],
        ['Dependencies', v.dependencies ? h('code', null, v.dependencies) : ''],
        ['Created by', h('span', null, v.created_by, v.created_by_verified ? '' : h('span', { class: 'muted' }, ' (unverified: declared with auth off)'))],
        ['Created at', fmtTime(v.created_at)],
        ['Updated at', fmtTime(v.updated_at)],
        ['Tags', Object.keys(v.tags ?? {}).length ? tagChips(v.tags) : ''],
      ]),
      h('div', { class: 'cols' }, h('div', null, h('h3', null, 'Metrics'), mapTable(v.metrics, 'metrics', true)), h('div', null, h('h3', null, 'Params'), mapTable(v.params, 'params'))),
      v.signature ? h('details', null, h('summary', null, 'Signature'), h('pre', null, JSON.stringify(v.signature, null, 2))) : null,
    ),
  );

  // Model card.
  const card = h('section', { class: 'card', id: 'model-card' });
  const showCard = () =>
    replace(
      card,
      h('div', { class: 'title' }, h('h2', null, 'Model card'), h('span', { class: 'spacer' }), can(me, 'writer', name) ? h('button', { type: 'button', onclick: editCard }, 'Edit') : null),
      v.description ? renderMarkdown(v.description) : h('p', { class: 'muted' }, 'No model card yet.'),
    );
  const editCard = () => {
    const desc = h('textarea', { rows: 12, value: v.description, name: 'description' });
    const tags = h('textarea', { rows: 3, value: tagsText(v.tags ?? {}), name: 'tags' });
    const out = h('div');
    replace(
      card,
      h('h2', null, 'Edit model card and tags'),
      out,
      field('Model card (Markdown)', desc),
      field('Tags', tags, 'one key=value per line; remove a line to delete the tag'),
      actionButton('Save', async () => {
        const next = parseTags(tags.value);
        const del = Object.keys(v.tags ?? {}).filter((k) => !(k in next));
        const nv = await call<Version>('PATCH', versionPath(name, v.version), { body: { description: desc.value, set_tags: next, delete_tags: del } });
        Object.assign(v, nv);
        showCard();
        flash('Saved.');
      }, { class: 'primary', out }),
      h('button', { type: 'button', onclick: showCard }, 'Cancel'),
    );
  };
  showCard();
  main.append(card);

  // Files.
  main.append(
    section(
      'Files',
      v.files.length
        ? table(
            ['Path', 'Size', 'Digest', ''],
            v.files.map((f) => [h('code', null, f.path), h('span', { title: `${f.size} bytes` }, fmtBytes(f.size)), h('code', { class: 'digest', title: f.digest }, f.digest), downloadLink(f.digest, f.path)]),
            { id: 'files' },
          )
        : empty('This version has no files (it points at its source).'),
    ),
  );

  // Lineage.
  const lin = h('div', null, h('p', { class: 'muted' }, 'Loading lineage…'));
  main.append(section('Lineage', lin));
  lineageSection(lin, ref);

  // Approval requests for this version, where the server has approvals.
  const appr = h('section', { class: 'card', id: 'version-approvals', hidden: true });
  main.append(appr);
  get<{ items: { id: string; alias?: string; stage?: string; status: string; requested_by: string; created_at: string; approvals?: { actor: string }[]; required?: number }[] }>('/approvals', { model: name, version: v.version })
    .then((page) => {
      const items = page.items ?? [];
      if (items.length === 0) return;
      appr.hidden = false;
      appr.append(
        h('h2', null, 'Approval requests'),
        table(
          ['Request', 'Target', 'Status', 'Approvals', 'Requested'],
          items.map((a) => [
            link('/approvals?status=&model=' + encodeURIComponent(name), a.id),
            a.alias ? '@' + a.alias : a.stage ? `stage ${a.stage}` : '',
            a.status,
            `${(a.approvals ?? []).length}${a.required ? ' of ' + a.required : ''}`,
            `${a.requested_by}, ${fmtTime(a.created_at)}`,
          ]),
        ),
      );
    })
    .catch(() => {
      /* a server without approvals: nothing to show */
    });

  // Alias.
  if (can(me, 'maintainer', name)) {
    const out = h('div');
    main.append(section('Point an alias here', out, aliasForm(name, model, out, reload, v.version)));
  }
}

// downloadLink: with auth off a plain link streams the blob; with a
// token the browser cannot add the Authorization header to a link, so the
// file is fetched with it and handed to the browser (for very large files
// use `cairn pull`).
function downloadLink(digest: string, path: string): HTMLElement {
  const href = '/api/v1/blobs/' + encodeURIComponent(digest);
  const filename = path.split('/').pop() || 'download';
  const a = h('a', { href, download: filename, class: 'download' }, 'Download');
  if (session.token()) {
    a.addEventListener('click', async (e) => {
      e.preventDefault();
      const res = await fetch(href, { headers: authHeaders(), credentials: 'omit' });
      if (!res.ok) {
        flash(`Download failed: ${res.status} ${res.statusText}`, 'error');
        return;
      }
      const url = URL.createObjectURL(await res.blob());
      const tmp = h('a', { download: filename });
      tmp.setAttribute('href', url);
      document.body.append(tmp);
      tmp.click();
      tmp.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  }
  return a;
}
