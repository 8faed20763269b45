/**
 * Model cards: Markdown from a version's README.md, written by whoever pushed it, so it is
 * untrusted. marked turns it into HTML and DOMPurify removes everything that could run
 * (scripts, event handlers, javascript: URLs, forms, inline styles) before React inserts it.
 */
import DOMPurify from 'dompurify';
import { marked } from 'marked';

const PURIFY = {
  USE_PROFILE: { html: true },
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe'],
  FORBID_ATTR: ['style'],
};

let hooked = false;

/** Sanitised HTML for `markdown`. Links open in a new tab without access to this page. */
export function renderMarkdown(markdown: string): string {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.hasAttribute('href')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      }
    });
    hooked = true;
  }
  const html = marked.parse(markdown, { async: false, gfm: true });
  return DOMPurify.sanitize(html, PURIFY);
}
