// Terminal escape sequences in log lines, made readable and inert. Colours and weights (SGR: 30–37, 90–97,
// 40–47, 100–107, 256-colour indexes below 16, bold, dim, italic, underline, reset) become CSS classes on
// segments of plain text; every other sequence (cursor moves, erase, OSC titles and links, DCS, …) and every
// other control character is dropped. The result is text for textContent: nothing here is ever HTML.

/**
 * @typedef {{fg: number|null, bg: number|null, bold: boolean, dim: boolean, italic: boolean, underline: boolean}} SgrState
 * @typedef {{text: string, cls: string}} Segment
 */

/** @returns {SgrState} */
export function plainState() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
}

/** @param {SgrState} st */
function classes(st) {
  const c = [];
  if (st.fg !== null) c.push(`ansi-fg-${st.fg}`);
  if (st.bg !== null) c.push(`ansi-bg-${st.bg}`);
  if (st.bold) c.push('ansi-bold');
  if (st.dim) c.push('ansi-dim');
  if (st.italic) c.push('ansi-italic');
  if (st.underline) c.push('ansi-underline');
  return c.join(' ');
}

/**
 * Applies one SGR sequence's parameters ("1;31", "38;5;9", "38:2:255:0:0", "") to the state.
 * @param {SgrState} st
 * @param {string} params
 */
function applySgr(st, params) {
  const tokens = params === '' ? ['0'] : params.split(';');
  for (let i = 0; i < tokens.length; i++) {
    const tok = /** @type {string} */ (tokens[i]);
    // 38/48 extended colours: "38;5;N" / "38;2;R;G;B", or with colons inside one parameter.
    const sub = tok.includes(':') ? tok.split(':') : null;
    const n = Number((sub ? sub[0] : tok) || '0');
    if (n === 38 || n === 48) {
      const rest = sub ? sub.slice(1) : tokens.slice(i + 1);
      const kind = Number(rest[0]);
      let idx = null;
      if (kind === 5) {
        const v = Number(rest[1]);
        if (Number.isInteger(v) && v >= 0 && v < 16) idx = v; // the 16 named colours; others keep the default
        if (!sub) i += 2;
      } else if (kind === 2) {
        if (!sub) i += 4; // a true colour: its arguments are skipped, the text keeps its colour
      } else if (!sub) i += 1;
      if (n === 38) st.fg = idx;
      else st.bg = idx;
      continue;
    }
    if (n === 0) Object.assign(st, plainState());
    else if (n === 1) st.bold = true;
    else if (n === 2) st.dim = true;
    else if (n === 3) st.italic = true;
    else if (n === 4) st.underline = true;
    else if (n === 21 || n === 22) (st.bold = false), (st.dim = false);
    else if (n === 23) st.italic = false;
    else if (n === 24) st.underline = false;
    else if (n >= 30 && n <= 37) st.fg = n - 30;
    else if (n === 39) st.fg = null;
    else if (n >= 40 && n <= 47) st.bg = n - 40;
    else if (n === 49) st.bg = null;
    else if (n >= 90 && n <= 97) st.fg = n - 90 + 8;
    else if (n >= 100 && n <= 107) st.bg = n - 100 + 8;
    // anything else (blink, inverse, fonts, …) is ignored
  }
}

const ESC = '\x1b';
/** Where a string terminated by ST (ESC \ or 0x9c) or BEL ends, from `i`; the line's end if it never does. */
function untilSt(/** @type {string} */ s, /** @type {number} */ i, /** @type {boolean} */ bel) {
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '\x9c' || (bel && c === '\x07')) return i + 1;
    if (c === ESC && s[i + 1] === '\\') return i + 2;
  }
  return s.length;
}

/**
 * One log line as styled segments and its plain text. `state` is the colour state the line starts in (a
 * colour set on one line lasts, as in a terminal, until reset); it is updated to where the line ends.
 * A carriage return starts the line over, as a terminal shows a progress bar: the text after the last one wins.
 * @param {string} line
 * @param {SgrState} [state]
 * @returns {{segments: Segment[], text: string}}
 */
export function parseAnsi(line, state = plainState()) {
  // Most lines have no control character at all: one segment, in the colour the line starts in.
  if (!/[\x00-\x08\x0a-\x1f\x7f-\x9f]/.test(line)) return { segments: line ? [{ text: line, cls: classes(state) }] : [], text: line };
  /** @type {Segment[]} */
  let segments = [];
  let cur = '';
  let cls = classes(state);
  let restart = false;
  const flush = () => {
    if (cur) segments.push({ text: cur, cls });
    cur = '';
  };
  for (let i = 0; i < line.length; ) {
    const c = /** @type {string} */ (line[i]);
    const code = c.charCodeAt(0);
    // CSI: ESC [ or 0x9b, parameters 0x30–0x3f, intermediates 0x20–0x2f, a final byte 0x40–0x7e.
    if ((c === ESC && line[i + 1] === '[') || c === '\x9b') {
      let j = i + (c === ESC ? 2 : 1);
      const p0 = j;
      while (j < line.length && /[0-?]/.test(/** @type {string} */ (line[j]))) j++;
      const params = line.slice(p0, j);
      const i0 = j;
      while (j < line.length && /[ -/]/.test(/** @type {string} */ (line[j]))) j++;
      const final = line[j];
      if (final !== undefined && /[@-~]/.test(final)) {
        if (final === 'm' && j === i0 && /^[0-9;:]*$/.test(params)) {
          flush();
          applySgr(state, params);
          cls = classes(state);
        }
        i = j + 1;
      } else i = final === undefined ? line.length : j; // malformed: drop what was read, keep the rest
      continue;
    }
    if (c === ESC) {
      const n = line[i + 1];
      if (n === ']') i = untilSt(line, i + 2, true); // OSC: titles, hyperlinks (their text stays), …
      else if (n === 'P' || n === 'X' || n === '^' || n === '_') i = untilSt(line, i + 2, false); // DCS, SOS, PM, APC
      else {
        // ESC, intermediates, one final byte: charset selection, save/restore cursor, keypad modes, …
        let j = i + 1;
        while (j < line.length && /[ -/]/.test(/** @type {string} */ (line[j]))) j++;
        i = j < line.length ? j + 1 : j;
      }
      continue;
    }
    if (c === '\x9d') {
      i = untilSt(line, i + 1, true);
      continue;
    }
    if (c === '\x90' || c === '\x98' || c === '\x9e' || c === '\x9f') {
      i = untilSt(line, i + 1, false);
      continue;
    }
    if (c === '\r') {
      restart = true;
      i++;
      continue;
    }
    if ((code < 0x20 && c !== '\t') || (code >= 0x7f && code <= 0x9f)) {
      i++; // other control characters (BEL, backspace, C1): dropped
      continue;
    }
    if (restart) {
      segments = [];
      cur = '';
      restart = false;
    }
    cur += c;
    i++;
  }
  flush();
  // Adjacent segments with the same style are one.
  /** @type {Segment[]} */
  const merged = [];
  for (const sg of segments) {
    const last = merged[merged.length - 1];
    if (last && last.cls === sg.cls) last.text += sg.text;
    else merged.push({ ...sg });
  }
  return { segments: merged, text: merged.map((sg) => sg.text).join('') };
}
