/** Instants as users type them on the command line and in API requests. */

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

/**
 * An ISO-8601 instant with its offset ('2026-01-01T02:00:00Z', '2026-01-01T03:00:00+01:00'), or a date alone
 * ('2026-01-01', meaning 00:00 UTC). A date-time without an offset is refused: it would silently mean the
 * host's zone. Returns epoch ms, or null when `text` is not such an instant.
 */
export function parseInstant(text: string): number | null {
  if (!ISO_INSTANT.test(text)) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}
