/**
 * Masking secret values in an attempt's log before the lines leave the worker. A value is looked for in the
 * forms a job is likely to print it in: whole; each line of a multi-line value; JSON-escaped (as
 * JSON.stringify and Python's json.dumps write it); percent-encoded; and base64 (standard and url-safe) at
 * each of the three byte alignments it can have inside a longer base64 text. Every match becomes `***`.
 *
 * Limits (docs/secrets.md): other encodings (hex, gzip, a value split and reassembled by the job) are not
 * recognised; very short values cannot be masked without masking ordinary text, so they are refused when set.
 */

export const MASK = '***';
/** No form shorter than this is looked for: it would match ordinary text. */
export const MIN_FORM_CHARS = 4;
/** A forced release masks a trailing start of a form only from this length on (shorter ones are noise). */
const MIN_PARTIAL_CHARS = 3;

/** Base64 characters that depend only on the value's bytes, for the value starting `align` bytes into a 3-byte group. */
function base64Core(bytes: Buffer, align: number): string {
  const enc = Buffer.concat([Buffer.alloc(align), bytes]).toString('base64');
  return enc.slice(Math.ceil((8 * align) / 6), Math.floor((8 * (align + bytes.length)) / 6));
}

/** JSON string escaping of `value` with every non-ASCII character as \uXXXX (Python's default). */
function jsonAscii(value: string, upper: boolean): string {
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(/[\u007f-\uffff]/g, (ch) => {
      const hex = ch.charCodeAt(0).toString(16).padStart(4, '0');
      return '\\u' + (upper ? hex.toUpperCase() : hex);
    });
}

/** Every form of one value that is looked for. */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  for (const line of value.split(/\r\n|\n|\r/)) forms.add(line);
  forms.add(JSON.stringify(value).slice(1, -1));
  forms.add(jsonAscii(value, false));
  forms.add(jsonAscii(value, true));
  try {
    forms.add(encodeURIComponent(value));
  } catch {
    // a lone surrogate: no percent-encoded form
  }
  const bytes = Buffer.from(value, 'utf8');
  for (let align = 0; align < 3; align++) {
    const core = base64Core(bytes, align);
    forms.add(core);
    forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms].filter((f) => f.length >= MIN_FORM_CHARS);
}

type Span = [start: number, end: number];

function merge(spans: Span[]): Span[] {
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else out.push([s[0], s[1]]);
  }
  return out;
}

function render(text: string, spans: readonly Span[]): string {
  let out = '';
  let at = 0;
  for (const [s, e] of spans) {
    out += text.slice(at, s) + MASK;
    at = e;
  }
  return out + text.slice(at);
}

export class Masker {
  private readonly forms: readonly string[];
  /** The longest form: a piece of a line can hold back at most one character less than this. */
  readonly longest: number;

  constructor(values: Iterable<string>) {
    const all = new Set<string>();
    for (const v of values) for (const f of secretForms(v)) all.add(f);
    this.forms = [...all].sort((a, b) => b.length - a.length);
    this.longest = this.forms[0]?.length ?? 0;
  }

  /** Where forms occur in `text`, overlapping occurrences merged. */
  spans(text: string): Span[] {
    const spans: Span[] = [];
    for (const f of this.forms) {
      for (let i = text.indexOf(f); i >= 0; i = text.indexOf(f, i + 1)) spans.push([i, i + f.length]);
    }
    return merge(spans);
  }

  mask(text: string): string {
    if (this.longest === 0 || text.length < MIN_FORM_CHARS) return text;
    const spans = this.spans(text);
    return spans.length === 0 ? text : render(text, spans);
  }

  /** The longest suffix of `text` (at least MIN_PARTIAL_CHARS) that begins some form, with what would complete each such form. */
  trailingStart(text: string): { length: number; rests: string[] } {
    let length = 0;
    const rests: string[] = [];
    for (const f of this.forms) {
      const k = suffixPrefix(text, f, this.failure(f));
      if (k >= MIN_PARTIAL_CHARS) {
        length = Math.max(length, k);
        rests.push(f.slice(k));
      }
    }
    return { length, rests };
  }

  private readonly failures = new Map<string, Int32Array>();

  private failure(f: string): Int32Array {
    let t = this.failures.get(f);
    if (!t) this.failures.set(f, (t = failureTable(f)));
    return t;
  }
}

/** Knuth-Morris-Pratt: for each prefix of `p`, the length of its longest proper border. */
function failureTable(p: string): Int32Array {
  const t = new Int32Array(p.length);
  let k = 0;
  for (let i = 1; i < p.length; i++) {
    while (k > 0 && p[i] !== p[k]) k = t[k - 1] ?? 0;
    if (p[i] === p[k]) k++;
    t[i] = k;
  }
  return t;
}

/** The length of the longest suffix of `text` that is a proper prefix of `p`, in O(|p|) (values may be 64 KiB). */
function suffixPrefix(text: string, p: string, t: Int32Array): number {
  let k = 0;
  for (let i = Math.max(0, text.length - (p.length - 1)); i < text.length; i++) {
    while (k > 0 && text[i] !== p[k]) k = t[k - 1] ?? 0;
    if (text[i] === p[k]) k++;
    if (k === p.length) k = t[k - 1] ?? 0;
  }
  return k;
}

/**
 * Masks a stream of pieces of lines (a log path may hand over the start of a long or slow line before its
 * end). A piece that does not end its line keeps back a tail shorter than the longest form, which may be the
 * start of a value, until the rest arrives. The tail is released after `holdMs` at most, so a line is never
 * delayed longer; then a trailing start of a value is masked, and so is its completion at the start of the
 * next piece.
 */
export class MaskStream {
  private held = '';
  private heldSince = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Completions of forms whose start ended the last forced release. */
  private rests: string[] = [];

  constructor(
    private readonly masker: Masker,
    private readonly emit: (text: string, lineEnd: boolean) => void,
    private readonly holdMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  write(piece: string, lineEnd: boolean): void {
    const buf = this.held + piece;
    const oldHeld = this.held.length;
    this.held = '';
    const spans = this.masker.spans(buf);
    const pre = this.completion(buf);
    if (pre > 0) spans.push([0, pre]);
    const all = merge(spans);
    if (lineEnd) {
      this.stopTimer();
      this.emit(render(buf, all), true);
      return;
    }
    let cut = Math.max(0, buf.length - Math.max(0, this.masker.longest - 1));
    for (const [s, e] of all) if (s < cut && e > cut) cut = e;
    if (cut > 0) this.emit(render(buf.slice(0, cut), all.filter(([s]) => s < cut)), false);
    this.held = buf.slice(cut);
    if (this.held === '') {
      this.stopTimer();
      return;
    }
    // The hold's age is that of its oldest character: it restarts only when all that was held went out.
    if (cut >= oldHeld || this.heldSince === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.heldSince = this.now();
    }
    if (this.now() - this.heldSince >= this.holdMs) this.release();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.release();
      }, this.holdMs - (this.now() - this.heldSince));
      this.timer.unref?.();
    }
  }

  /** Emits what is held back now (as a piece that does not end its line). */
  release(): void {
    this.stopTimer();
    const text = this.held;
    this.held = '';
    if (text === '') return;
    const spans = this.masker.spans(text);
    const trailing = this.masker.trailingStart(text);
    if (trailing.length > 0) spans.push([text.length - trailing.length, text.length]);
    this.rests = trailing.rests;
    this.emit(render(text, merge(spans)), false);
  }

  private completion(buf: string): number {
    if (this.rests.length === 0) return 0;
    let pre = 0;
    for (const r of this.rests) {
      if (buf.startsWith(r)) pre = Math.max(pre, r.length);
      else if (r.startsWith(buf)) pre = Math.max(pre, buf.length);
    }
    this.rests = [];
    return pre;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.heldSince = 0;
  }
}
