// How a run's log lines look: terminal colours as styled spans (ansi.js), the search match marked, long lines
// wrapped or scrolled (a toggle, remembered in this browser). Text goes in with textContent only.
import { h, when } from './lib.js';
import { parseAnsi, plainState } from './ansi.js';

/**
 * @typedef {{seq: number, ts: string, stream: string, line: string}} LogLine
 * @typedef {import('./ansi.js').Segment} Segment
 */

const WRAP_KEY = 'kairos.logWrap';

/** Parses lines as they arrive, keeping each stream's colour state from one line to the next. */
export function logLines() {
  /** @type {Map<string, import('./ansi.js').SgrState>} */
  const states = new Map();
  /** @type {WeakMap<LogLine, {segments: Segment[], text: string}>} */
  const parsed = new WeakMap();
  /** @param {LogLine} l */
  const parse = (l) => {
    let p = parsed.get(l);
    if (!p) {
      const st = states.get(l.stream) ?? plainState();
      states.set(l.stream, st);
      p = parseAnsi(l.line, st);
      parsed.set(l, p);
    }
    return p;
  };
  return {
    /** The line as the reader sees it, without escape sequences: what the search looks in. */
    text: (/** @type {LogLine} */ l) => parse(l).text,
    /**
     * One line's element: its time, then its text in styled segments, the first match of `needle` marked.
     * @param {LogLine} l
     * @param {string} needle lower case, or ''
     */
    element(l, needle) {
      const { segments, text } = parse(l);
      const el = h('span', { class: `line ${l.stream}`, 'data-seq': l.seq });
      // A no-break space: a long first word breaks beside the time, not onto a row of its own.
      el.append(h('span', { class: 'ts' }, `${when(l.ts).slice(11)}\u00a0`));
      const at = needle ? text.toLowerCase().indexOf(needle) : -1;
      const end = at + needle.length;
      let off = 0;
      for (const sg of segments) {
        const a = off, b = off + sg.text.length;
        off = b;
        // Cut the segment where the match starts and ends; the pieces inside the match are marked.
        const cuts = [a, ...(at < 0 ? [] : [at, end]).filter((x) => x > a && x < b), b];
        for (let k = 0; k + 1 < cuts.length; k++) {
          const x = /** @type {number} */ (cuts[k]), y = /** @type {number} */ (cuts[k + 1]);
          const piece = sg.text.slice(x - a, y - a);
          const node = sg.cls ? h('span', { class: sg.cls }, piece) : document.createTextNode(piece);
          el.append(at >= 0 && x >= at && y <= end ? h('mark', {}, node) : node);
        }
      }
      el.append('\n');
      return el;
    },
  };
}

/**
 * The "Wrap long lines" checkbox for a log's <pre>: on, a long line wraps inside the page; off, the log
 * scrolls sideways (the page never does). On by default; the choice is kept in this browser.
 * @param {HTMLElement} pre
 */
export function wrapToggle(pre) {
  const saved = localStorage.getItem(WRAP_KEY);
  const box = h('input', { type: 'checkbox', 'data-control': 'wrap', checked: saved !== 'off' });
  const apply = () => pre.classList.toggle('wrap', box.checked);
  box.addEventListener('change', () => {
    localStorage.setItem(WRAP_KEY, box.checked ? 'on' : 'off');
    apply();
  });
  apply();
  return h('label', { class: 'check' }, box, 'Wrap long lines');
}
