// <profile-report>: a PROFILE report in any page, from one script tag.
//
//   <script type="module" src="https://…/widget.js"></script>
//   <profile-report src="report.json" view="factors" theme="auto"></profile-report>
//
// Attributes (all optional but a report):
//   src    a profile-report/1 JSON file, relative to the page; without it the
//          report is read from a child <script type="application/json">
//   view   factors | alignment | rankings
//   theme  auto (follows prefers-color-scheme) | light | dark
//   agent  the agent whose factor scores the factors view shows
//   clickable  (opt-in, no value) every factor becomes a button: a click, or
//          Enter/Space, dispatches a `profile-factor` event (bubbling out of
//          the shadow root) with detail { factor, agent, view }: the factor's
//          id and the agent whose number was clicked (null when the click
//          names no agent, e.g. an alignment row's label). The widget has
//          only the report, not the pairs behind it: the page decides what
//          the event opens (e.g. its own copy of the app with the data).
//
// The element draws into its shadow root with DOM calls made by its own small
// Wasm module (profile-widget_bg.wasm, next to this file): the report is
// schema-checked, its text only ever becomes text nodes, and problems are
// shown in the widget. Styles come from widget.css next to this file; there
// is no inline script or style, so it works under a strict
// Content-Security-Policy (script-src 'self' 'wasm-unsafe-eval'; style-src 'self').
import init, { renderReport, renderFragment, renderMessage, renderProblem } from './profile-widget.js';

const HERE = new URL('.', import.meta.url);
/** Re-render when the width changes by at least this many CSS pixels. */
const RELAYOUT_PX = 24;

let started;
/** Loads the Wasm module once for every element of the page. */
function start() {
  started ??= init({ module_or_path: new URL('profile-widget_bg.wasm', HERE) });
  return started;
}

export class ProfileReport extends HTMLElement {
  static observedAttributes = ['src', 'view', 'theme', 'agent', 'clickable'];

  #box;
  #styled;
  /** What to show: { text } (report JSON) or { fragment } (an embed.html fragment). */
  #source = null;
  #loads = 0;
  #renders = 0;
  #width = 0;
  #observer = null;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL('widget.css', HERE).href;
    this.#styled = new Promise((done) => {
      css.addEventListener('load', done, { once: true });
      css.addEventListener('error', done, { once: true });
    });
    this.#box = document.createElement('div');
    this.#box.className = 'pr-host';
    this.#box.hidden = true;
    this.#styled.then(() => { this.#box.hidden = false; });
    root.append(css, this.#box);
    this.#box.addEventListener('click', (e) => this.#factorEvent(e));
    this.#box.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') this.#factorEvent(e);
    });
  }

  /** With `clickable`: the factor (and agent) of the clicked element as a `profile-factor` event. */
  #factorEvent(e) {
    if (!this.hasAttribute('clickable')) return;
    const target = e.target instanceof Element ? e.target : null;
    const row = target?.closest('[data-factor]');
    if (!row || !this.#box.contains(row)) return;
    e.preventDefault();
    const agent = target.closest('[data-agent]')?.getAttribute('data-agent') ?? null;
    const view = this.getAttribute('view') ?? 'factors';
    this.dispatchEvent(new CustomEvent('profile-factor', {
      bubbles: true,
      composed: true,
      detail: { factor: row.getAttribute('data-factor'), agent, view },
    }));
  }

  /** With `clickable`: every factor focusable and announced as a button. */
  #markClickable() {
    const on = this.hasAttribute('clickable');
    for (const el of this.#box.querySelectorAll('[data-factor]')) {
      if (on) {
        el.setAttribute('tabindex', '0');
        el.setAttribute('role', 'button');
        el.classList.add('pr-clickable');
      } else if (el.classList.contains('pr-clickable')) {
        el.removeAttribute('tabindex');
        el.removeAttribute('role');
        el.classList.remove('pr-clickable');
      }
    }
  }

  connectedCallback() {
    this.#observer ??= new ResizeObserver(() => this.#resized());
    this.#observer.observe(this);
    if (this.#source === null || this.hasAttribute('src')) this.#load();
    else this.#render();
  }

  disconnectedCallback() {
    this.#observer?.disconnect();
  }

  attributeChangedCallback(name, old, value) {
    if (!this.isConnected || old === value) return;
    if (name === 'src') this.#load();
    else this.#render();
  }

  /** `ready`, `error` or `loading`: what the widget shows now. */
  get state() {
    return this.#box.querySelector('[data-state]')?.getAttribute('data-state') ?? 'loading';
  }

  /** Shows a report given as JSON text or as an object, instead of `src`. */
  set report(value) {
    this.#loads++;
    let text;
    try {
      text = typeof value === 'string' ? value : JSON.stringify(value);
    } catch (e) {
      text = String(e);
    }
    this.#source = { text: text ?? '' };
    this.#render();
  }

  /** Shows the report of an `embed.html` fragment (`view=…&theme=…&r=…`). */
  showFragment(fragment) {
    this.#loads++;
    this.#source = { fragment: String(fragment) };
    this.#render();
  }

  async #load() {
    const load = ++this.#loads;
    const src = this.getAttribute('src');
    if (src === null) {
      const block = this.querySelector('script[type="application/json"]');
      this.#source = block ? { text: block.textContent } : this.#source;
      if (this.#source === null) {
        await this.#problem('This PROFILE widget has no report',
          'Give it a src attribute (a profile-report/1 JSON file) or a <script type="application/json"> child.');
        return;
      }
      this.#render();
      return;
    }
    await this.#message('Loading the report…');
    let text;
    try {
      const res = await fetch(new URL(src, document.baseURI), { credentials: 'same-origin' });
      if (!res.ok) throw new Error(`the server answered ${res.status} ${res.statusText}`.trim());
      text = await res.text();
    } catch (e) {
      if (load !== this.#loads) return;
      this.#source = null;
      await this.#problem('This PROFILE report could not be loaded', `${src}: ${e && e.message ? e.message : e}`);
      return;
    }
    if (load !== this.#loads) return;
    this.#source = { text };
    this.#render();
  }

  #measure() {
    const w = this.getBoundingClientRect().width;
    return w > 0 ? w : 640;
  }

  /** Runs `draw` once the module and the styles are there; shows a plain message if the module cannot start. */
  async #draw(draw) {
    const render = ++this.#renders;
    try {
      await Promise.all([start(), this.#styled]);
    } catch (e) {
      this.#box.textContent = `The PROFILE widget could not start: ${e && e.message ? e.message : e}`;
      return undefined;
    }
    if (render !== this.#renders) return undefined;
    try {
      return draw();
    } catch (e) {
      this.#box.textContent = `The PROFILE widget failed: ${e && e.message ? e.message : e}`;
      return undefined;
    }
  }

  #message(text) {
    return this.#draw(() => renderMessage(this.#box, this.getAttribute('theme'), text));
  }

  #problem(title, detail) {
    return this.#draw(() => {
      renderProblem(this.#box, this.getAttribute('theme'), title, detail);
      this.dispatchEvent(new CustomEvent('profile-report-render', { detail: { ok: false } }));
    });
  }

  async #render() {
    const source = this.#source;
    if (source === null) return;
    const out = await this.#draw(() => {
      const width = this.#measure();
      this.#width = width;
      return 'fragment' in source
        ? renderFragment(this.#box, source.fragment, width)
        : renderReport(this.#box, source.text, this.getAttribute('view'), this.getAttribute('theme'),
          this.getAttribute('agent'), width);
    });
    if (out) {
      this.#markClickable();
      this.dispatchEvent(new CustomEvent('profile-report-render', { detail: out }));
    }
  }

  #resized() {
    if (this.#source === null || this.#width === 0) return;
    if (Math.abs(this.#measure() - this.#width) >= RELAYOUT_PX) this.#render();
  }
}

if (!customElements.get('profile-report')) customElements.define('profile-report', ProfileReport);
