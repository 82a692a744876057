// Which worker a worker page is: one worker per tab. Its id is a prefix kept for
// the browser (localStorage, `browser-f85cbf1e`) and a part of the tab's own
// (sessionStorage, which a reload keeps and another tab does not share):
// `browser-f85cbf1e-3a9c`. So two tabs of one browser are two workers to the
// coordinator (each its own slots, parts, rejection count and release pause), and
// one tab keeps its id across reloads.
//
// A duplicated tab starts with a copy of its original's sessionStorage, so tabs tell
// each other their ids over a BroadcastChannel: a tab that announces an id another
// open tab already uses is told so, and takes a new tab part. An id given in the URL
// (`?workerId=`) or typed by the person is used as it is.

/** localStorage key of the browser's prefix. */
const PREFIX_KEY = 'xdana.browserId';
/** sessionStorage key of the tab's id. */
const TAB_KEY = 'xdana.tabWorkerId';
/** BroadcastChannel on which the tabs of one browser compare ids. */
const CHANNEL = 'xdana-worker-ids';

/** `bytes` random bytes as hex. */
function randomHex(bytes) {
  const values = new Uint8Array(bytes);
  crypto.getRandomValues(values);
  return Array.from(values, (b) => b.toString(16).padStart(2, '0')).join('');
}

function storageGet(storage, key) {
  try {
    return storage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function storageSet(storage, key, value) {
  try {
    storage?.setItem(key, value);
  } catch {
    // Storage may be disabled; the value then lasts for this page only.
  }
}

/** This tab's worker id, kept and kept apart from other tabs' ids. */
export class TabIdentity {
  /**
   * @param {{local?: Storage | null, session?: Storage | null, fromUrl?: string | null,
   *   changed?: (id: string, why: string) => void, channel?: string}} options `local` and
   *   `session` default to the page's storages; `fromUrl` is an id the URL gives;
   *   `changed` hears of an id taken because another tab had this one
   */
  constructor({ local = globalThis.localStorage, session = globalThis.sessionStorage, fromUrl = null, changed = () => {}, channel = CHANNEL } = {}) {
    this.local = local;
    this.session = session;
    this.changed = changed;
    /** This tab, to other tabs (differs between tabs even when their ids clash). */
    this.tab = randomHex(8);
    this.fixed = Boolean(fromUrl);
    this.id = fromUrl || storageGet(session, TAB_KEY) || this.freshId();
    if (!fromUrl) storageSet(session, TAB_KEY, this.id);
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(channel) : null;
    if (this.channel) {
      this.channel.onmessage = (event) => this.heard(event.data);
      this.announce();
    }
  }

  /** The browser's prefix, made once and kept. */
  prefix() {
    let prefix = storageGet(this.local, PREFIX_KEY);
    if (!prefix) {
      prefix = `browser-${randomHex(4)}`;
      storageSet(this.local, PREFIX_KEY, prefix);
    }
    return prefix;
  }

  /** A new id for this tab: the browser's prefix and a new tab part. */
  freshId() {
    return `${this.prefix()}-${randomHex(2)}`;
  }

  /** Tells the other tabs which id this tab uses. */
  announce() {
    this.channel?.postMessage({ type: 'using', id: this.id, tab: this.tab });
  }

  heard(message) {
    if (message?.id !== this.id || message.tab === this.tab) return;
    if (message.type === 'using') {
      // Another tab announces this tab's id: it is taken.
      this.channel.postMessage({ type: 'taken', id: this.id, tab: this.tab, to: message.tab });
    } else if (message.type === 'taken' && message.to === this.tab && !this.fixed) {
      const was = this.id;
      this.use(this.freshId(), false);
      this.changed(this.id, `another tab of this browser uses "${was}"`);
    }
  }

  /**
   * Works under `id` from now on (a new tab part when empty); kept for this tab. An id
   * chosen by the person is kept even if another tab uses it.
   *
   * @returns {string} the id now used
   */
  use(id, chosen = true) {
    this.id = String(id ?? '').trim() || this.freshId();
    this.fixed = chosen;
    storageSet(this.session, TAB_KEY, this.id);
    this.announce();
    return this.id;
  }

  /** Stops listening to the other tabs. */
  close() {
    this.channel?.close();
    this.channel = null;
  }
}
