/**
 * Multipart bodies (sip/multipart.ts): the RFC 2046 splitter (boundary from the Content-Type,
 * preamble and epilogue dropped, bare LF tolerated, quoted boundaries), the choice of the
 * session description in mixed and alternative bodies (RFC 5621), `handling=required` parts,
 * and fast-check properties: generated bodies split back into their parts, and garbage never
 * throws.
 */
import test from 'ava';
import fc from 'fast-check';
import { parseContentDisposition, parseMediaType, parseMultipart, sessionBodyOf } from '../sip/multipart.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

function body(boundary: string, parts: Array<{ headers: string[]; content: string }>, eol = '\r\n'): Buffer {
  let text = `preamble to ignore${eol}`;
  for (const p of parts) text += `--${boundary}${eol}${p.headers.map((h) => h + eol).join('')}${eol}${p.content}${eol}`;
  text += `--${boundary}--${eol}epilogue${eol}`;
  return Buffer.from(text, 'latin1');
}

test('media types and dispositions', (t) => {
  t.deepEqual(parseMediaType('Multipart/Mixed ; Boundary="a;b c"; x=1'), { type: 'multipart/mixed', params: { boundary: 'a;b c', x: '1' } });
  t.is(parseMediaType('no slash'), undefined);
  t.is(parseMediaType('/sdp'), undefined);
  t.is(parseMediaType(undefined), undefined);
  t.deepEqual(parseContentDisposition('Session; Handling=Required'), { type: 'session', handling: 'required' });
  t.deepEqual(parseContentDisposition('render'), { type: 'render' });
  t.is(parseContentDisposition(''), undefined);
});

test('a mixed body splits into its parts; preamble and epilogue are dropped; bare LF works too', (t) => {
  for (const eol of ['\r\n', '\n']) {
    const b = body('unique-42', [
      { headers: ['Content-Type: application/sdp'], content: SDP.replace(/\r\n/g, eol) },
      { headers: ['Content-Type: text/plain', 'Content-Disposition: render;handling=optional'], content: 'hello' },
      { headers: [], content: 'untyped' },
    ], eol);
    const parts = parseMultipart('multipart/mixed;boundary=unique-42', b);
    t.is(parts?.length, 3);
    t.is(parts?.[0]?.contentType.type, 'application/sdp');
    t.is(parts?.[0]?.body.toString('latin1'), SDP.replace(/\r\n/g, eol));
    t.is(parts?.[1]?.body.toString(), 'hello');
    t.deepEqual(parts?.[1]?.disposition, { type: 'render', handling: 'optional' });
    t.is(parts?.[2]?.contentType.type, 'text/plain', 'RFC 2046: untyped parts are text/plain');
  }
  t.is(parseMultipart('multipart/mixed', Buffer.from('--x\r\n\r\nhi\r\n--x--')), undefined, 'no boundary');
  t.is(parseMultipart('application/sdp;boundary=x', Buffer.from('--x\r\n\r\nhi\r\n--x--')), undefined, 'not multipart');
  t.is(parseMultipart('multipart/mixed;boundary=zz', Buffer.from('no delimiter here')), undefined);
});

test('the session description of a body: plain SDP, the SDP part of mixed and alternative bodies, 415 cases', (t) => {
  t.deepEqual(sessionBodyOf('application/sdp', Buffer.alloc(0)), { kind: 'none' });
  t.deepEqual(sessionBodyOf('application/sdp', Buffer.from(SDP)), { kind: 'sdp', sdp: SDP });
  t.deepEqual(sessionBodyOf(undefined, Buffer.from(SDP)), { kind: 'sdp', sdp: SDP }, 'an untyped body is taken as SDP');
  t.is(sessionBodyOf('text/plain', Buffer.from('hi')).kind, 'unsupported');
  const mixed = body('b1', [
    { headers: ['Content-Type: text/plain'], content: 'clutter' },
    { headers: ['Content-Type: application/sdp', 'Content-Disposition: session'], content: SDP },
    { headers: ['Content-Type: application/isup;version=itu-t92+', 'Content-Disposition: signal;handling=optional'], content: '\x01\x02\x00' },
  ]);
  t.deepEqual(sessionBodyOf('multipart/mixed;boundary=b1', mixed), { kind: 'sdp', sdp: SDP });
  const alt = body('b2', [
    { headers: ['Content-Type: application/sdp'], content: SDP },
    { headers: ['Content-Type: application/x-future-sdp'], content: 'v=2' },
  ]);
  t.deepEqual(sessionBodyOf('multipart/alternative; boundary="b2"', alt), { kind: 'sdp', sdp: SDP });
  const nested = body('outer', [
    { headers: ['Content-Type: text/plain'], content: 'x' },
    { headers: ['Content-Type: multipart/alternative;boundary=inner'], content: body('inner', [{ headers: ['Content-Type: application/sdp'], content: SDP }]).toString('latin1') },
  ]);
  t.deepEqual(sessionBodyOf('multipart/mixed;boundary=outer', nested), { kind: 'sdp', sdp: SDP });
  const noSdp = body('b3', [{ headers: ['Content-Type: text/plain'], content: 'only text' }]);
  t.like(sessionBodyOf('multipart/mixed;boundary=b3', noSdp), { kind: 'unsupported', detail: 'no application/sdp part in multipart/mixed body' });
  const required = body('b4', [
    { headers: ['Content-Type: application/sdp'], content: SDP },
    { headers: ['Content-Type: application/resource-lists+xml', 'Content-Disposition: recipient-list;handling=required'], content: '<x/>' },
  ]);
  t.like(sessionBodyOf('multipart/mixed;boundary=b4', required), { kind: 'unsupported', detail: 'required body part application/resource-lists+xml not supported' });
  const earlySession = body('b5', [{ headers: ['Content-Type: application/sdp', 'Content-Disposition: early-session'], content: SDP }]);
  t.is(sessionBodyOf('multipart/mixed;boundary=b5', earlySession).kind, 'unsupported', 'an SDP part for another disposition is not the session');
  t.is(sessionBodyOf('multipart/mixed;boundary=b6', Buffer.from('garbage')).kind, 'malformed');
  t.is(sessionBodyOf('multipart/related;boundary=b1', mixed).kind, 'unsupported');
});

const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_=:;"\r\n\t'.split('')), maxLength: 40 });

test('property: generated multipart bodies split back into their parts', (t) => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[A-Za-z0-9'()+_,\-./:=?]{1,40}$/),
      fc.array(fc.record({ type: fc.constantFrom('text/plain', 'application/sdp', 'application/octet-stream'), content: fc.string({ unit: fc.constantFrom(...'ab c\r\n-'.split('')), maxLength: 60 }) }), { minLength: 1, maxLength: 6 }),
      fc.constantFrom('\r\n', '\n'),
      (boundary, parts, eol) => {
        // a delimiter line inside a part's content would end it: RFC 2046 makes the sender choose another boundary
        fc.pre(parts.every((p) => !`${eol}${p.content}${eol}`.includes(`\n--${boundary}`)));
        // with bare LF line ends tolerated, a CR ending a part's content reads as part of the delimiter's CRLF
        fc.pre(parts.every((p) => !p.content.endsWith('\r')));
        const b = body(boundary, parts.map((p) => ({ headers: [`Content-Type: ${p.type}`], content: p.content })), eol);
        const got = parseMultipart(`multipart/mixed; boundary="${boundary}"`, b);
        if (!got || got.length !== parts.length) return false;
        return got.every((g, i) => g.contentType.type === parts[i]!.type && g.body.toString('latin1') === parts[i]!.content);
      },
    ),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: garbage never throws', (t) => {
  fc.assert(
    fc.property(printable, fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 300 }), (ct, bytes, text) => {
      for (const type of [ct, `multipart/mixed;boundary=${ct}`, 'multipart/alternative;boundary=a', undefined]) {
        for (const b of [Buffer.from(bytes), Buffer.from(`--a\r\n${text}\r\n--a\r\n${text}`, 'latin1')]) {
          sessionBodyOf(type, b);
          parseMultipart(type, b);
        }
      }
      parseContentDisposition(text);
      parseMediaType(text);
    }),
    { numRuns: 5000 },
  );
  t.pass();
});
