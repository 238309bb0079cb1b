import test from 'ava';
import { SipParseError } from '../sip/message.js';
import {
  AUTH_UNQUOTED_CHALLENGE,
  AUTH_UNQUOTED_CREDENTIALS,
  checkNameAddr,
  checkUri,
  checkVia,
  formatAuthHeader,
  formatNameAddr,
  formatUri,
  formatVia,
  isToken,
  parseAuthHeader,
  parseCSeq,
  parseNameAddr,
  parseUri,
  parseVia,
  quoteString,
  type NameAddr,
} from '../sip/grammar.js';
import { splitHeaderList } from '../sip/parser.js';

function throwsParse(t: { true: (v: boolean, m?: string) => void }, fn: () => unknown, label: string): void {
  try {
    fn();
  } catch (err) {
    t.true(err instanceof SipParseError && err.reason.length > 0, `${label}: wrong error ${String(err)}`);
    return;
  }
  t.true(false, `${label}: did not throw`);
}

// ---- URIs

test('parseUri: full sip URI with user, password, port, params and headers', (t) => {
  const u = parseUri('sip:alice:secret@atlanta.example.com:5061;transport=TCP;LR;Maddr=239.255.255.1?subject=project%20x&priority=urgent');
  t.is(u.scheme, 'sip');
  t.is(u.user, 'alice');
  t.is(u.password, 'secret');
  t.is(u.host, 'atlanta.example.com');
  t.is(u.port, 5061);
  t.deepEqual(u.params, { transport: 'TCP', lr: null, maddr: '239.255.255.1' });
  t.deepEqual(u.headers, { subject: 'project%20x', priority: 'urgent' });
});

test('parseUri: scheme is case-insensitive and lower-cased', (t) => {
  t.is(parseUri('SIPS:bob@example.com').scheme, 'sips');
  t.is(parseUri('Tel:+1').scheme, 'tel');
});

test('parseUri: IPv6 references keep their brackets', (t) => {
  const u = parseUri('sip:[2001:db8::10]:5070;transport=tcp');
  t.is(u.host, '[2001:db8::10]');
  t.is(u.port, 5070);
  t.is(u.user, undefined);
  t.is(parseUri('sip:alice@[::ffff:192.0.2.1]').host, '[::ffff:192.0.2.1]');
});

test('parseUri: flag parameters are null, duplicates keep the first', (t) => {
  t.deepEqual(parseUri('sip:h;lr;ob;lr=x').params, { lr: null, ob: null });
});

test('parseUri: escaped characters are kept as written', (t) => {
  const u = parseUri('sip:I%20have%20spaces@example.net;n%61me=v%61lue');
  t.is(u.user, 'I%20have%20spaces');
  t.is(u.params['n%61me'], 'v%61lue');
});

test('parseUri: user part may hold ; ? and , (RFC 4475 semiuri, intmeth)', (t) => {
  const u = parseUri('sip:user;par=u%40example.net@example.com;lr');
  t.is(u.user, 'user;par=u%40example.net');
  t.deepEqual(u.params, { lr: null });
});

test('parseUri: tel URI keeps the number in user and parses params', (t) => {
  t.deepEqual(parseUri('tel:+1-201-555-0123;phone-context=example.com;ext=22'), {
    scheme: 'tel',
    host: '',
    params: { 'phone-context': 'example.com', ext: '22' },
    headers: {},
    user: '+1-201-555-0123',
  });
});

test('parseUri: other schemes are opaque', (t) => {
  const u = parseUri('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6;x');
  t.is(u.scheme, 'urn');
  t.is(u.user, 'uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6;x');
  t.is(u.host, '');
  t.is(formatUri(u), 'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6;x');
  t.is(formatUri(parseUri('http://www.example.com/a?b=c')), 'http://www.example.com/a?b=c');
});

test('parseUri: rejects malformed URIs', (t) => {
  for (const bad of [
    '', 'example.com', ':x', '1sip:a@b', 'sip:', 'sip:@host', 'sip:a@', 'sip:host:', 'sip:host:70000', 'sip:host:5o60',
    'sip:[::1', 'sip:[]', 'sip:[fe80::1%eth0]', 'sip:a b@host', ' sip:a@b', 'sip:a@b ', 'sip:a@b<', 'sip:host;=x',
    'sip:host/path', 'tel:', 'tel:;x', 'sip:a@b?=x', 'x y:z',
  ]) {
    throwsParse(t, () => parseUri(bad), JSON.stringify(bad));
    throwsParse(t, () => checkUri(bad), `check ${JSON.stringify(bad)}`);
  }
});

test('checkUri: reports headers', (t) => {
  t.false(checkUri('sip:a@b;lr'));
  t.true(checkUri('sip:a@b?Route=%3Csip:x%3E'));
});

test('formatUri: round-trips and brackets bare IPv6 hosts', (t) => {
  for (const s of [
    'sip:alice@atlanta.example.com',
    'sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr?subject=hi&x=',
    'tel:+1-201-555-0123;phone-context=example.com',
    'sip:host;flag;k=v',
  ]) {
    t.is(formatUri(parseUri(s)), s);
  }
  t.is(formatUri({ scheme: 'sip', host: '::1', port: 5060, params: {}, headers: {} }), 'sip:[::1]:5060');
});

// ---- name-addr

test('parseNameAddr: quoted display name with escaped quotes', (t) => {
  const na = parseNameAddr('"Quoted \\"Name\\"" <sip:a@b>;tag=x');
  t.is(na.displayName, 'Quoted "Name"');
  t.is(na.uri.user, 'a');
  t.is(na.uri.host, 'b');
  t.deepEqual(na.params, { tag: 'x' });
  t.true(na.bracketed);
});

test('parseNameAddr: escaped backslash and UTF-8 display names', (t) => {
  t.is(parseNameAddr('"J Rosenberg \\\\\\"" <sip:j@example.com>').displayName, 'J Rosenberg \\"');
  t.is(parseNameAddr('"Zoë Ünal" <sip:z@example.com>').displayName, 'Zoë Ünal');
});

test('parseNameAddr: token display names, with and without a space before <', (t) => {
  t.is(parseNameAddr('Alice Liddell <sip:alice@atlanta.example.com>').displayName, 'Alice Liddell');
  t.is(parseNameAddr('caller<sip:caller@example.com>;tag=323').displayName, 'caller');
});

test('parseNameAddr: bracketed URI parameters stay in the URI, header params after >', (t) => {
  const na = parseNameAddr('<sip:alice@192.0.2.1;transport=tcp;lr>;expires=60;+sip.instance="<urn:uuid:1;x>";q=0.5');
  t.is(na.displayName, undefined);
  t.deepEqual(na.uri.params, { transport: 'tcp', lr: null });
  t.deepEqual(na.params, { expires: '60', '+sip.instance': '"<urn:uuid:1;x>"', q: '0.5' });
});

test('parseNameAddr: bare addr-spec parameters are header parameters (RFC 3261 §20.10)', (t) => {
  const na = parseNameAddr('sip:alice@atlanta.example.com;tag=x;user=phone');
  t.false(na.bracketed);
  t.deepEqual(na.uri.params, {});
  t.deepEqual(na.params, { tag: 'x', user: 'phone' });
});

test('parseNameAddr: whitespace around ; and = is tolerated (RFC 4475 wsinv)', (t) => {
  const na = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
  t.is(na.params.tag, '1918181833n');
  const c = parseNameAddr('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33');
  t.deepEqual(c.params, { newparam: 'newvalue', secondparam: null, q: '0.33' });
});

test('parseNameAddr: unknown schemes', (t) => {
  t.is(parseNameAddr('isbn:2983792873').uri.scheme, 'isbn');
  t.is(parseNameAddr('<http://www.example.com>;tag=3').uri.user, '//www.example.com');
  t.deepEqual(parseNameAddr('<tel:+1234;phone-context=x>').uri.params, { 'phone-context': 'x' });
});

test('parseNameAddr: rejects malformed values', (t) => {
  for (const bad of [
    '', '   ', '"Mr. J. User <sip:j.user@example.com>', '"Joe" sip:joe@example.org', '<sip:a@b', 'Bell, Alexander <sip:a@b>',
    '"W" < sip:t@example.org >', 'sip:user@example.com?Route=%3Csip:x%3E', '<sip:a@b>;;', '<sip:a@b>;tag=', '<sip:a@b> x',
    '<sip:a@b>;tag="open', 'sip:a,b@c', '<sip:a@b>;p=<x>',
  ]) {
    throwsParse(t, () => parseNameAddr(bad), JSON.stringify(bad));
    throwsParse(t, () => checkNameAddr(bad), `check ${JSON.stringify(bad)}`);
  }
});

test('formatNameAddr: always brackets, quotes display names only when needed', (t) => {
  const uri = parseUri('sip:alice@atlanta.example.com;transport=tcp');
  const base: NameAddr = { uri, params: { tag: 'x' }, bracketed: false };
  t.is(formatNameAddr(base), '<sip:alice@atlanta.example.com;transport=tcp>;tag=x');
  t.is(formatNameAddr({ ...base, displayName: 'Alice' }), 'Alice <sip:alice@atlanta.example.com;transport=tcp>;tag=x');
  t.is(formatNameAddr({ ...base, displayName: 'Alice Liddell' }), 'Alice Liddell <sip:alice@atlanta.example.com;transport=tcp>;tag=x');
  t.is(formatNameAddr({ ...base, displayName: 'Liddell, Alice' }), '"Liddell, Alice" <sip:alice@atlanta.example.com;transport=tcp>;tag=x');
  t.is(formatNameAddr({ ...base, displayName: 'say "hi" \\o/' }), '"say \\"hi\\" \\\\o/" <sip:alice@atlanta.example.com;transport=tcp>;tag=x');
  t.is(formatNameAddr({ ...base, displayName: 'Zoë' }), '"Zoë" <sip:alice@atlanta.example.com;transport=tcp>;tag=x');
  t.is(formatNameAddr({ ...base, params: { lr: null } }), '<sip:alice@atlanta.example.com;transport=tcp>;lr');
});

test('formatNameAddr → parseNameAddr round-trips', (t) => {
  for (const s of [
    '"Quoted \\"Name\\"" <sip:a@b>;tag=x',
    'sip:alice@atlanta.example.com;tag=x',
    'A B <sips:[::1]:5061;lr>;expires=0',
    '"" <sip:a@b>',
    '<urn:service:sos>',
  ]) {
    const a = parseNameAddr(s);
    const b = parseNameAddr(formatNameAddr(a));
    t.true(b.bracketed);
    t.deepEqual({ ...b, bracketed: a.bracketed, displayName: b.displayName ?? '' }, { ...a, displayName: a.displayName ?? '' });
  }
});

test('quoteString escapes quotes and backslashes', (t) => {
  t.is(quoteString('a"b\\c'), '"a\\"b\\\\c"');
  t.is(parseNameAddr(`${quoteString('a"b\\c')} <sip:x@y>`).displayName, 'a"b\\c');
});

// ---- Via

test('parseVia: typical value with rport flag and received', (t) => {
  t.deepEqual(parseVia('SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport;received=192.0.2.77'), {
    protocol: 'SIP/2.0',
    transport: 'UDP',
    host: '192.0.2.1',
    params: { branch: 'z9hG4bK776asdhds', rport: null, received: '192.0.2.77' },
    port: 5060,
  });
});

test('parseVia: whitespace around / and ; and =, lower-case transport', (t) => {
  const v = parseVia('sip  /   2.0  / tcp     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  ; rport = 5062');
  t.is(v.protocol, 'SIP/2.0');
  t.is(v.transport, 'TCP');
  t.is(v.host, 'spindle.example.com');
  t.is(v.port, undefined);
  t.deepEqual(v.params, { branch: 'z9hG4bK9ikj8', rport: '5062' });
});

test('parseVia: IPv6 sent-by and IPv6 received', (t) => {
  const v = parseVia('SIP/2.0/TLS [2001:db8::9:1]:5061;branch=z9hG4bKas3;received=2001:db8::9:255');
  t.is(v.host, '[2001:db8::9:1]');
  t.is(v.port, 5061);
  t.is(v.params.received, '2001:db8::9:255');
  t.is(parseVia('SIP/2.0/UDP [::1]').host, '[::1]');
  t.is(parseVia('SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKhjhs8ass877').transport, 'WSS');
});

test('parseVia: rejects malformed values', (t) => {
  for (const bad of [
    '', 'SIP/2.0', 'SIP/2.0/UDP', 'SIP/2.0/UDP ', 'SIP/2.0 UDP host', 'SIP/2.0/UDPhost', 'SIP/2.0/UDP host;;',
    'SIP/2.0/UDP 192.0.2.15;;', ';', 'SIP/2.0/UDP host:99999', 'SIP/2.0/UDP host:', 'SIP/2.0/UDP [::1',
    'SIP/2.0/UDP host;branch=', 'SIP/2.0/UDP host branch=x',
  ]) {
    throwsParse(t, () => parseVia(bad), JSON.stringify(bad));
    throwsParse(t, () => checkVia(bad), `check ${JSON.stringify(bad)}`);
  }
});

test('formatVia round-trips', (t) => {
  for (const s of [
    'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport;received=192.0.2.77',
    'SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK1',
    'SIP/2.0/WS example.invalid',
  ]) {
    t.is(formatVia(parseVia(s)), s);
  }
  t.is(formatVia({ protocol: 'SIP/2.0', transport: 'UDP', host: '::1', port: 5060, params: { rport: null } }), 'SIP/2.0/UDP [::1]:5060;rport');
});

// ---- CSeq

test('parseCSeq: values, leading zeros, folding whitespace, range', (t) => {
  t.deepEqual(parseCSeq('314159 INVITE'), { seq: 314159, method: 'INVITE' });
  t.deepEqual(parseCSeq('0009  INVITE'), { seq: 9, method: 'INVITE' });
  t.deepEqual(parseCSeq(' 2147483647 ack '), { seq: 2147483647, method: 'ack' });
  t.deepEqual(parseCSeq("139122385 !interesting-Method0123456789_*+`.%indeed'~").seq, 139122385);
  for (const bad of ['', 'INVITE', '1', '1INVITE', '-1 INVITE', '2147483648 INVITE', '36893488147419103232 REGISTER', '1 INVITE x', '1 IN/VITE', 'x 1']) {
    throwsParse(t, () => parseCSeq(bad), JSON.stringify(bad));
  }
});

// ---- authentication headers

test('parseAuthHeader: challenge with quoted and token params', (t) => {
  t.deepEqual(parseAuthHeader('Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5, stale=TRUE'), {
    scheme: 'Digest',
    params: { realm: 'x', nonce: 'y', qop: 'auth,auth-int', algorithm: 'MD5', stale: 'TRUE' },
  });
});

test('parseAuthHeader: escapes undone, names lower-cased, odd spacing', (t) => {
  const h = parseAuthHeader('Digest   Realm = "a \\"quoted\\" \\\\ realm" ,NONCE="n",opaque=""');
  t.deepEqual(h.params, { realm: 'a "quoted" \\ realm', nonce: 'n', opaque: '' });
  t.deepEqual(parseAuthHeader('NoOneKnowsThisScheme opaque-data=here'), { scheme: 'NoOneKnowsThisScheme', params: { 'opaque-data': 'here' } });
  t.deepEqual(parseAuthHeader('Digest'), { scheme: 'Digest', params: {} });
});

test('parseAuthHeader: rejects malformed values', (t) => {
  for (const bad of ['', ' ', 'Digest realm', 'Digest realm=', 'Digest realm="x', 'Digest realm="x",', 'Digest realm="x" nonce="y"', 'Digest ,realm="x"', 'Digest,realm=x']) {
    throwsParse(t, () => parseAuthHeader(bad), JSON.stringify(bad));
  }
});

test('formatAuthHeader: challenges quote qop, credentials do not', (t) => {
  const challenge = parseAuthHeader('Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5, stale=TRUE');
  t.is(formatAuthHeader(challenge), 'Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5, stale=TRUE');
  const cred = {
    scheme: 'Digest',
    params: { username: 'bob', realm: 'x', nonce: 'y', uri: 'sip:x', response: 'abc', algorithm: 'MD5', cnonce: 'c', qop: 'auth', nc: '00000001' },
  };
  t.is(
    formatAuthHeader(cred),
    'Digest username="bob", realm="x", nonce="y", uri="sip:x", response="abc", algorithm=MD5, cnonce="c", qop=auth, nc=00000001',
  );
  t.is(formatAuthHeader(challenge, AUTH_UNQUOTED_CREDENTIALS), 'Digest realm="x", nonce="y", qop=auth,auth-int, algorithm=MD5, stale="TRUE"');
  t.is(formatAuthHeader(cred, AUTH_UNQUOTED_CHALLENGE).includes('qop="auth"'), true);
  t.is(formatAuthHeader({ scheme: 'Digest', params: { realm: 'a"b' } }, new Set()), 'Digest realm="a\\"b"');
  t.is(formatAuthHeader({ scheme: 'Digest', params: {} }), 'Digest');
});

test('formatAuthHeader → parseAuthHeader round-trips', (t) => {
  const h = { scheme: 'Digest', params: { realm: 'r "q" \\', nonce: 'n,1', qop: 'auth', algorithm: 'MD5-sess', opaque: '' } };
  t.deepEqual(parseAuthHeader(formatAuthHeader(h)), h);
});

// ---- misc

test('isToken', (t) => {
  t.true(isToken("!interesting-Method0123456789_*+`.%indeed'~"));
  t.false(isToken(''));
  t.false(isToken('a b'));
  t.false(isToken('a:b'));
  t.false(isToken('é'));
});

test('splitHeaderList respects quotes and angle brackets', (t) => {
  t.deepEqual(splitHeaderList('<sip:a@b;x=1,2>, "x, \\"y" <sip:c@d>,sip:e@f'), ['<sip:a@b;x=1,2>', '"x, \\"y" <sip:c@d>', 'sip:e@f']);
  t.deepEqual(splitHeaderList(' INVITE ,ACK,, BYE ,'), ['INVITE', 'ACK', 'BYE']);
  t.deepEqual(splitHeaderList(''), ['']);
  t.deepEqual(splitHeaderList('*'), ['*']);
});
