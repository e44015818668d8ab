"""Prints random base64 lines (76 characters each) in blocks of about 1 MiB to stdout, as fast as it can,
until argv[1] bytes. Writes the same bytes to $KAIROS_PARAM_COPY (default /dev/null) and, when
$KAIROS_PARAM_TIMING is set, the seconds it spent writing to that file. Used by test/e2e/capture-1g.test.ts
and bench/capture.ts."""
import base64, os, sys, time

total = int(sys.argv[1])
copy = open(os.environ.get('KAIROS_PARAM_COPY') or '/dev/null', 'wb')
out = sys.stdout.buffer
t0 = time.monotonic()
written = 0
while written < total:
    block = base64.encodebytes(os.urandom(786432))
    out.write(block)
    copy.write(block)
    written += len(block)
out.flush()
copy.close()
elapsed = time.monotonic() - t0
timing = os.environ.get('KAIROS_PARAM_TIMING')
if timing:
    with open(timing, 'w') as f:
        f.write('%.6f %d\n' % (elapsed, written))
