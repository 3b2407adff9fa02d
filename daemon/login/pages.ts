// The pages a person sees in the browser at the end of a login: plain HTML and CSS, no
// external assets, every dynamic value escaped.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, tone: 'ok' | 'error', heading: string, body: string): string {
  const accent = tone === 'ok' ? '#10a37f' : '#d03a3a';
  const mark = tone === 'ok' ? '&#10003;' : '!';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f7f7f8;
         font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #202123; }
  main { max-width: 28rem; margin: 1rem; padding: 2.5rem 2rem; background: #fff; border-radius: 16px;
         box-shadow: 0 2px 24px rgba(0,0,0,.08); text-align: center; }
  .mark { width: 56px; height: 56px; margin: 0 auto 1rem; border-radius: 50%; background: ${accent};
          color: #fff; font-size: 30px; line-height: 56px; font-weight: 700; }
  h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
  p { margin: .5rem 0; color: #555; }
  code { background: #f0f0f2; padding: .1rem .35rem; border-radius: 4px; }
</style></head>
<body><main><div class="mark">${mark}</div><h1>${escapeHtml(heading)}</h1>${body}</main></body></html>`;
}

export function successPage(): string {
  return page(
    'Signed in to Codex',
    'ok',
    'You are signed in to Codex',
    '<p>codexd saved your login, and every Codex tool on this machine can use it now.</p><p><strong>You can close this tab.</strong></p>',
  );
}

/** Escapes `text`; a command in backticks in our own advice is shown as code. */
function advice(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** `message` may carry text from the issuer: it is only escaped. `whatToDo` is ours. */
export function errorPage(heading: string, message: string, whatToDo: string): string {
  return page('Codex sign-in failed', 'error', heading, `<p>${escapeHtml(message)}</p><p>${advice(whatToDo)}</p>`);
}
