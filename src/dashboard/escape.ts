/**
 * HTML escaping for everything the server writes into a page. The page itself builds its
 * content with `textContent` and `createElement`, never `innerHTML`; what the server puts in
 * the HTML shell (the CSRF token, the broker's address) goes through here, so no value that
 * came from a message, a worker or a user can become markup.
 */
const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** The text of any value, safe between tags and inside a quoted attribute. */
export function escapeHtml(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return text.replace(/[&<>"'`]/g, (char) => ENTITIES[char]);
}

/** Fills `{{name}}` placeholders of a template with the escaped values; an unknown placeholder is an error. */
export function renderTemplate(template: string, values: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(values, name)) throw new Error(`the page template names {{${name}}}, which has no value`);
    return escapeHtml(values[name]);
  });
}
