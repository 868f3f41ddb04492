// The page's messages in the user's language: the server puts the catalog's browser-side texts
// (keys js.*, status.*, reason.*, export.status.*) as JSON on <body data-i18n> (archive/web/i18n.py);
// t(key, {name: value}) fills {name}. A key the catalog lacks throws: never an empty label.
const catalog = JSON.parse(document.body.dataset.i18n || "{}");

export function has(key) { return Object.prototype.hasOwnProperty.call(catalog, key); }

export function t(key, params = {}) {
  if (!has(key)) throw new Error(`no message ${key} in the page's catalog`);
  return catalog[key].replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// a gap's reason in words (the logged code itself when the catalog has none: a newer recorder)
export function reason(code) { return has("reason." + code) ? t("reason." + code) : code; }
