// The README and docs/ point at each other and at the code: every relative link must reach a file
// that exists, and every #anchor a heading of that file (GitHub's anchors: lower case, punctuation
// dropped, spaces to hyphens, a -N suffix for repeats).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

/** Markdown without its fenced code blocks and inline code, where `[x](y)` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

test('the README is short enough to read in five minutes', () => {
  const words = prose(readFileSync(join(root, 'README.md'), 'utf8')).split(/\s+/).length;
  assert.ok(words < 2000, `README.md has ${words} words: move the depth into docs/`);
});

test('every relative link and anchor in the README and docs/ resolves', () => {
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8');
    for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? join(root, page) : join(root, dirname(page), path);
      if (!existsSync(file)) {
        broken.push(`${page}: ${target} (no file ${relative(root, file)})`);
        continue;
      }
      if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) {
        broken.push(`${page}: ${target} (no heading for #${anchor} in ${relative(root, file)})`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

test('every page in docs/ is reachable from the README', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const unlinked = pages.filter((page) => page !== 'README.md' && !readme.includes(`](${page.split('\\').join('/')}`));
  assert.deepEqual(unlinked, []);
});
