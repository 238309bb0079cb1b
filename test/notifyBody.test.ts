/**
 * sip/notifyBody.ts: what of a NOTIFY's body its package gets — the whole body, the accepted
 * part of a multipart one (nested, alternative's last usable), or nothing (a 415).
 */
import test from 'ava';
import { notifyBodyOf } from '../sip/notifyBody.js';

const PIDF = 'application/pidf+xml';

function multipart(boundary: string, parts: Array<[string, string]>): Buffer {
  return Buffer.from(parts.map(([type, body]) => `--${boundary}\r\nContent-Type: ${type}\r\n\r\n${body}\r\n`).join('') + `--${boundary}--\r\n`);
}

test('a single-part body, no body, or no Accept list: the whole body', (t) => {
  t.deepEqual(notifyBodyOf(PIDF, Buffer.from('<presence/>'), [PIDF]), { kind: 'whole' });
  t.deepEqual(notifyBodyOf('multipart/mixed;boundary=b', Buffer.alloc(0), [PIDF]), { kind: 'whole' });
  t.deepEqual(notifyBodyOf('multipart/mixed;boundary=b', multipart('b', [['text/plain', 'x']]), undefined), { kind: 'whole' });
  t.deepEqual(notifyBodyOf('multipart/mixed;boundary=b', multipart('b', [['text/plain', 'x']]), ['multipart/mixed']), { kind: 'whole' });
});

test('multipart/mixed: the accepted part with its own Content-Type; a wildcard Accept matches', (t) => {
  const body = multipart('b', [['text/plain', 'clutter'], [`${PIDF};charset=utf-8`, '<presence/>']]);
  const r = notifyBodyOf('multipart/mixed; boundary="b"', body, [PIDF]);
  t.is(r.kind, 'part');
  if (r.kind !== 'part') return;
  t.is(r.contentType, `${PIDF};charset=utf-8`);
  t.is(r.body.toString(), '<presence/>');
  const any = notifyBodyOf('multipart/mixed;boundary=b', body, ['application/*']);
  t.is(any.kind === 'part' ? any.body.toString() : '', '<presence/>');
});

test('nested multipart and multipart/alternative (the last usable alternative wins)', (t) => {
  const inner = multipart('in', [['message/sipfrag', 'SIP/2.0 200 OK']]).toString();
  const nested = notifyBodyOf('multipart/mixed;boundary=out', multipart('out', [['text/plain', 'x'], ['multipart/mixed;boundary=in', inner]]), ['message/sipfrag']);
  t.is(nested.kind === 'part' ? nested.body.toString() : '', 'SIP/2.0 200 OK');
  const alt = notifyBodyOf('multipart/alternative;boundary=a', multipart('a', [[PIDF, 'first'], [PIDF, 'second']]), [PIDF]);
  t.is(alt.kind === 'part' ? alt.body.toString() : '', 'second');
});

test('no understood part, or an unreadable multipart body: none (415)', (t) => {
  t.deepEqual(notifyBodyOf('multipart/mixed;boundary=b', multipart('b', [['text/plain', 'x'], ['image/png', 'y']]), [PIDF]), { kind: 'none' });
  t.deepEqual(notifyBodyOf('multipart/mixed', Buffer.from('no boundary at all'), [PIDF]), { kind: 'none' });
});
