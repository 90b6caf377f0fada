// A small Markdown renderer for model cards and descriptions that builds
// DOM nodes directly. It understands headings, paragraphs, emphasis,
// inline code, fenced code blocks, block quotes, lists, simple tables,
// horizontal rules and links. Raw HTML is never interpreted: it is shown
// as the text it is. Links keep only http(s), mailto and same-origin
// targets; images are shown as links (no request to a third party just
// because someone viewed a model card).

import { h, safeHref, type Child } from './dom';

export function renderMarkdown(src: string): HTMLElement {
  const root = h('div', { class: 'markdown' });
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  const isBlank = (l: string) => l.trim() === '';
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    // Fenced code.
    const fence = /^\s*(```+|~~~+)\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      root.appendChild(h('pre', null, h('code', fence[2] ? { 'data-lang': fence[2] } : null, body.join('\n'))));
      continue;
    }
    // Heading.
    const hd = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (hd) {
      const level = Math.min(6, hd[1].length + 1) as 2 | 3 | 4 | 5 | 6; // h1 is the page's own title
      root.appendChild(h(`h${level}` as 'h2', null, inline(hd[2])));
      i++;
      continue;
    }
    // Horizontal rule.
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      root.appendChild(h('hr'));
      i++;
      continue;
    }
    // Block quote.
    if (/^\s{0,3}>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s{0,3}>/.test(lines[i])) body.push(lines[i++].replace(/^\s{0,3}>\s?/, ''));
      const q = renderMarkdown(body.join('\n'));
      root.appendChild(h('blockquote', null, Array.from(q.childNodes)));
      continue;
    }
    // Table: a header row, a delimiter row, then body rows.
    if (line.includes('|') && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(lines[i + 1])) {
      const head = cells(line);
      i += 2;
      const rows: string[][] = [];
      while (i < lines.length && lines[i].includes('|') && !isBlank(lines[i])) rows.push(cells(lines[i++]));
      root.appendChild(
        h('table', { class: 'md-table' }, h('thead', null, h('tr', null, head.map((c) => h('th', null, inline(c))))), h('tbody', null, rows.map((r) => h('tr', null, head.map((_, j) => h('td', null, inline(r[j] ?? ''))))))),
      );
      continue;
    }
    // Lists.
    const li = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+/.exec(line);
    if (li) {
      const ordered = /\d/.test(li[1]);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length) {
        const m = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(lines[i]);
        if (!m || /\d/.test(m[1]) !== ordered) break;
        const item = [m[2]];
        i++;
        // Continuation lines (indented, not a new item).
        while (i < lines.length && !isBlank(lines[i]) && /^\s{2,}\S/.test(lines[i]) && !/^\s{0,3}([-*+]|\d{1,9}[.)])\s+/.test(lines[i])) item.push(lines[i++].trim());
        const text = item.join(' ');
        const task = /^\[([ xX])\]\s+(.*)$/.exec(text);
        list.appendChild(task ? h('li', null, h('input', { type: 'checkbox', disabled: true, checked: task[1] !== ' ' }), ' ', inline(task[2])) : h('li', null, inline(text)));
        while (i < lines.length && isBlank(lines[i]) && i + 1 < lines.length && /^\s{0,3}([-*+]|\d{1,9}[.)])\s+/.test(lines[i + 1])) i++;
      }
      root.appendChild(list);
      continue;
    }
    // Paragraph: until a blank line or the start of another block.
    const para: string[] = [];
    while (i < lines.length && !isBlank(lines[i]) && !/^\s*(```|~~~|#{1,6}\s|>)/.test(lines[i]) && !(para.length > 0 && /^\s{0,3}([-*+]|\d{1,9}[.)])\s+/.test(lines[i]))) para.push(lines[i++].trim());
    if (para.length === 0) {
      // A line no rule above took (cannot happen, but never loop forever).
      para.push(lines[i++]);
    }
    const p = h('p');
    para.forEach((l, j) => {
      if (j > 0) p.appendChild(document.createTextNode(' '));
      p.append(...toNodes(inline(l)));
    });
    root.appendChild(p);
  }
  return root;
}

function cells(row: string): string[] {
  let r = row.trim();
  if (r.startsWith('|')) r = r.slice(1);
  if (r.endsWith('|') && !r.endsWith('\\|')) r = r.slice(0, -1);
  return r.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function toNodes(c: Child[]): Node[] {
  const d = h('span', null, c);
  return Array.from(d.childNodes);
}

interface Rule {
  re: RegExp;
  make: (m: RegExpExecArray) => Child;
}

const rules: Rule[] = [
  { re: /`([^`]+)`/, make: (m) => h('code', null, m[1]) },
  { re: /\\([\\`*_{}\[\]()#+\-.!<>|])/, make: (m) => m[1] },
  { re: /!\[([^\]]*)\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)/, make: (m) => link(m[2], [`image: ${m[1] || m[2]}`]) },
  { re: /\[([^\]]+)\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)/, make: (m) => link(m[2], inline(m[1])) },
  { re: /<((?:https?:\/\/|mailto:)[^>\s]+)>/, make: (m) => link(m[1], [m[1]]) },
  { re: /(\*\*|__)(?=\S)([\s\S]*?\S)\1/, make: (m) => h('strong', null, inline(m[2])) },
  { re: /(\*|_)(?=\S)([\s\S]*?\S)\1/, make: (m) => h('em', null, inline(m[2])) },
  { re: /~~(?=\S)([\s\S]*?\S)~~/, make: (m) => h('del', null, inline(m[1])) },
];

function link(href: string, text: Child[]): Child {
  const safe = safeHref(href);
  if (safe === '#') return h('span', { class: 'md-badlink', title: 'link removed: only http, https and mailto links are kept' }, text);
  return h('a', { href: safe, rel: 'noopener noreferrer nofollow', target: safe.startsWith('/') ? null : '_blank' }, text);
}

// inline renders one line's inline markup: the earliest match of any rule
// wins, the text before it stays text.
export function inline(s: string): Child[] {
  const out: Child[] = [];
  let rest = s;
  while (rest.length > 0) {
    let best: { m: RegExpExecArray; r: Rule } | null = null;
    for (const r of rules) {
      const m = r.re.exec(rest);
      if (m && (best === null || m.index < best.m.index)) best = { m, r };
    }
    if (!best) {
      out.push(rest);
      break;
    }
    if (best.m.index > 0) out.push(rest.slice(0, best.m.index));
    out.push(best.r.make(best.m));
    rest = rest.slice(best.m.index + best.m[0].length);
  }
  return out;
}
