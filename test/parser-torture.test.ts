/**
 * RFC 4475 "SIP Torture Test Messages", re-typed as test vectors.
 *
 * Messages are written with LF line ends and turned into CRLF wire bytes by `wire()`; every
 * character of the template maps to one byte (latin1), so `\xNN` escapes reproduce the RFC's
 * `<hex>` notation byte for byte (UTF-8 sequences are written as their bytes).
 */
import test from 'ava';
import { SipParseError, type SipMessage } from '../sip/message.js';
import { parseMessage, serializeMessage } from '../sip/parser.js';
import { parseCSeq, parseNameAddr, parseUri, parseVia } from '../sip/grammar.js';

/** LF → CRLF, one byte per char. */
function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1');
}

/** The SDP body most RFC 4475 messages carry (CRLF lines). */
function sdp(o: string, c: string, t = '0'): string {
  return (
    'v=0\n' +
    `o=mhandley 29739 7272939 IN IP4 ${o}\n` +
    's=-\n' +
    `c=IN IP4 ${c}\n` +
    `t=${t} 0\n` +
    'm=audio 49217 RTP/AVP 0 12\n' +
    'm=video 3227 RTP/AVP 31\n' +
    'a=rtpmap:31 LPC\n'
  );
}

const rep = (s: string, n: number): string => s.repeat(n);

// ---------------------------------------------------------------------------------------------
// §3.1.1 Valid messages

const wsinv = wire(
  'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n' +
    'TO :\n' +
    ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n' +
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\n' +
    '  ;\n' +
    '  tag = 98asjd8\n' +
    'MaX-fOrWaRdS: 0068\n' +
    'Call-ID: wsinv.ndaksdj@192.0.2.1\n' +
    'Content-Length   : 150\n' +
    'cseq: 0009\n' +
    '  INVITE\n' +
    'Via  : SIP  /   2.0\n' +
    ' /UDP\n' +
    '    192.0.2.2;branch=390skdjuw\n' +
    's :\n' +
    'NewFangledHeader:   newfangled value\n' +
    ' continued newfangled value\n' +
    'UnknownHeaderWithUnusualValue: ;;,,;;,;\n' +
    'Content-Type: application/sdp\n' +
    'Route:\n' +
    ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n' +
    'v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n' +
    '  branch  =   z9hG4bK9ikj8  ,\n' +
    ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n' +
    ' z9hG4bK30239\n' +
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\n' +
    '      newvalue ;\n' +
    '  secondparam ; q = 0.33\n' +
    '\n' +
    sdp('192.0.2.3', '192.0.2.4'),
);

const intmeth = wire(
  "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n" +
    "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n" +
    'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>\n' +
    "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=" +
    '"\xD1\x80\xD0\xB0\xD0\xB1\xD0\xBE\xD1\x82\xD0\xB0\xD1\x8E\xD1\x89\xD0\xB8\xD0\xB9"' +
    ";tag=_token~1'+`*%!-.\n" +
    "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n" +
    "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n" +
    'Max-Forwards: 255\n' +
    "extensionHeader-!.%*+_`'~:\xEF\xBB\xBF\xE5\xA4\xA7\xE5\x81\x9C\xE9\x9B\xBB\n" +
    'Content-Length: 0\n' +
    '\n',
);

const esc01 = wire(
  'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\n' +
    'To: sip:%75se%72@example.com\n' +
    'From: <sip:I%20have%20spaces@example.net>;tag=938\n' +
    'Max-Forwards: 87\n' +
    'i: esc01.239409asdfakjkn23onasd0-3234\n' +
    'CSeq: 234234 INVITE\n' +
    'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\n' +
    'C: application/sdp\n' +
    'Contact:\n' +
    '  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\n' +
    'Content-Length: 150\n' +
    '\n' +
    sdp('192.0.2.1', '192.0.2.1'),
);

const escnull = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'To: sip:null-%00-null@example.com\n' +
    'From: sip:null-%00-null@example.com;tag=839923423\n' +
    'Max-Forwards: 70\n' +
    'Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\n' +
    'CSeq: 14398234 REGISTER\n' +
    'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n' +
    'Contact: <sip:%00@host5.example.com>\n' +
    'Contact: <sip:%00%00@host5.example.com>\n' +
    'L:0\n' +
    '\n',
);

const esc02 = wire(
  'RE%47IST%45R sip:registrar.example.com SIP/2.0\n' +
    'To: "%Z%45" <sip:resource@example.com>\n' +
    'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23\n' +
    'Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\n' +
    'Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\n' +
    'CSeq: 29344 RE%47IST%45R\n' +
    'Max-Forwards: 70\n' +
    'Contact: <sip:alias1@host1.example.com>\n' +
    'C%6Fntact: <sip:alias2@host2.example.com>\n' +
    'Contact: <sip:alias3@host3.example.com>\n' +
    'l: 0\n' +
    '\n',
);

const lwsdisp = wire(
  'OPTIONS sip:user@example.com SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: caller<sip:caller@example.com>;tag=323\n' +
    'Max-Forwards: 70\n' +
    'Call-ID: lwsdisp.1234abcd@funky.example.com\n' +
    'CSeq: 60 OPTIONS\n' +
    'Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\n' +
    'l: 0\n' +
    '\n',
);

const longreqVias: string[] = [];
{
  const spellings = ['Via: ', 'v: ', 'V: ', 'Via: ', 'ViA: ', 'VIa: ', 'VIA: ', 'via: ', 'viA: ', 'vIa: ', 'vIA: ',
    'V :  ', 'v :  ', 'V  : ', 'v  : ', 'Via : ', 'Via  : '];
  for (let n = 33; n >= 1; n--) {
    const prefix = spellings[33 - n] ?? 'Via: ';
    longreqVias.push(`${prefix}SIP/2.0/TCP sip${n}.example.com\n`);
  }
}
const longreq = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    `To: "I have a user name of ${rep('extreme', 10)} proportion"<sip:user@example.com:6000;unknownparam1=very${rep('long', 20)}value;longparam${rep('name', 25)}=shortvalue;very${rep('long', 25)}ParameterNameWithNoValue>\n` +
    `F: sip:${rep('amazinglylongcallername', 5)}@example.net;tag=12${rep('982', 50)}424;unknownheaderparam${rep('name', 20)}=unknowheaderparam${rep('value', 15)};unknownValueless${rep('paramname', 10)}\n` +
    `Call-ID: longreq.one${rep('really', 20)}longcallid\n` +
    'CSeq: 3882340 INVITE\n' +
    `Unknown-${rep('Long', 20)}-Name: unknown-${rep('long', 20)}-value; unknown-${rep('long', 20)}-parameter-name = unknown-${rep('long', 20)}-parameter-value\n` +
    longreqVias.join('') +
    `Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very${rep('long', 50)}branchvalue\n` +
    'Max-Forwards: 70\n' +
    `Contact: <sip:${rep('amazinglylongcallername', 5)}@host5.example.net>\n` +
    'Content-Type: application/sdp\n' +
    'l: 150\n' +
    '\n' +
    sdp('192.0.2.1', '192.0.2.1'),
);

const dblreq = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:j.user@example.com;tag=43251j3j324\n' +
    'Max-Forwards: 8\n' +
    'I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\n' +
    'Contact: sip:j.user@host.example.com\n' +
    'CSeq: 8 REGISTER\n' +
    'Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\n' +
    'Content-Length: 0\n' +
    '\n' +
    'INVITE sip:joe@example.com SIP/2.0\n' +
    't: sip:joe@example.com\n' +
    'From: sip:caller@example.net;tag=141334\n' +
    'Max-Forwards: 8\n' +
    'Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\n' +
    'CSeq: 8 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 150\n' +
    '\n' +
    sdp('192.0.2.15', '192.0.2.15').replace('m=video', 'm =video'),
);

const semiuri = wire(
  'OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\n' +
    'To: sip:j_user@example.com\n' +
    'From: sip:caller@example.org;tag=33242\n' +
    'Max-Forwards: 3\n' +
    'Call-ID: semiuri.0ha0isndaksdj\n' +
    'CSeq: 8 OPTIONS\n' +
    'Accept: application/sdp, application/pkcs7-mime,\n' +
    '        multipart/mixed, multipart/signed,\n' +
    '        message/sip, message/sipfrag\n' +
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\n' +
    'l: 0\n' +
    '\n',
);

const transports = wire(
  'OPTIONS sip:user@example.com SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: <sip:caller@example.com>;tag=323\n' +
    'Max-Forwards: 70\n' +
    'Call-ID:  transports.kijh4akdnaqjkwendsasfdj\n' +
    'Accept: application/sdp\n' +
    'CSeq: 60 OPTIONS\n' +
    'Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\n' +
    'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n' +
    'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\n' +
    'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n' +
    'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\n' +
    'l: 0\n' +
    '\n',
);

/** The DER blob (a PKCS#7 signature) of mpart01's second body part, from the RFC's hex. */
const MPART01_BLOB = Buffer.from(
  '3082015206092A864886F70D010702A08201433082013F02' +
    '01013109300706052B0E03021A300B06092A864886F70D010701318201203082' +
    '011C020101307C3070310B300906035504061302555331133011060355040813' +
    '0A43616C69666F726E69613111300F0603550407130853616E204A6F7365310E' +
    '300C060355040A1305736970697431293027060355040B132053697069742054' +
    '65737420436572746966696361746520417574686F7269747902080195007102' +
    '330113300706052B0E03021A300D06092A864886F70D01010105000481808EF4' +
    '66F948F0522DD2E5978E9D95AAE9F2FE15A06659716292E8DA2AA8D8350A68CE' +
    'FFAE3CBD2BFF1675DDD5648E593DD64728F26220F7E941749E330D9A15EDABDB' +
    '93D10C42102E7B7289D29CC0C9AE2EFBC7C0CFF9172F3B027E4FC027E1546DE4' +
    'B6AA3ABB3E66CCCB5DD6C64B8383149CB8E6FF182D944FE57B65BC99D005',
  'hex',
);
const mpart01Body = Buffer.concat([
  wire(
    '--7a9cbec02ceef655\n' +
      'Content-Type: text/plain\n' +
      'Content-Transfer-Encoding: binary\n' +
      '\n' +
      'Hello\n' +
      '--7a9cbec02ceef655\n' +
      'Content-Type: application/octet-stream\n' +
      'Content-Transfer-Encoding: binary\n' +
      '\n',
  ),
  MPART01_BLOB,
  wire('\n--7a9cbec02ceef655--\n'),
]);
const mpart01 = Buffer.concat([
  wire(
    'MESSAGE sip:kumiko@example.org SIP/2.0\n' +
      'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\n' +
      'Max-Forwards: 70\n' +
      'Route: <sip:127.0.0.1:5080>\n' +
      'Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\n' +
      'Contact: <sip:fluffy@127.0.0.1:5070>\n' +
      'To: <sip:kumiko@example.org>\n' +
      'From: <sip:fluffy@example.com>;tag=2fb0dcc9\n' +
      'Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\n' +
      'CSeq: 1 MESSAGE\n' +
      'Content-Transfer-Encoding: binary\n' +
      'Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\n' +
      'Date: Sat, 15 Oct 2005 04:44:56 GMT\n' +
      'User-Agent: SIPimp.org/0.2.5 (curses)\n' +
      'Content-Length: 553\n' +
      '\n',
  ),
  mpart01Body,
]);

const unreason = wire(
  'SIP/2.0 200 = 2**3 * 5**2 ' +
    '\xD0\xBD\xD0\xBE\x20\xD1\x81\xD1\x82\xD0\xBE\x20\xD0\xB4\xD0\xB5\xD0\xB2\xD1\x8F\xD0\xBD\xD0\xBE\xD1\x81\xD1\x82' +
    '\xD0\xBE\x20\xD0\xB4\xD0\xB5\xD0\xB2\xD1\x8F\xD1\x82\xD1\x8C\x20\x2D\x20\xD0\xBF\xD1\x80\xD0\xBE\xD1\x81\xD1\x82' +
    '\xD0\xBE\xD0\xB5\n' +
    'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n' +
    'Call-ID: unreason.1234ksdfak3j2erwedfsASdf\n' +
    'CSeq: 35 INVITE\n' +
    'From: sip:user@example.com;tag=11141343\n' +
    'To: sip:user@example.edu;tag=2229\n' +
    'Content-Length: 154\n' +
    'Content-Type: application/sdp\n' +
    'Contact: <sip:user@host198.example.com>\n' +
    '\n' +
    sdp('192.0.2.198', '192.0.2.198'),
);

const noreason = wire(
  'SIP/2.0 100\x20\n' +
    'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n' +
    'Call-ID: noreason.asndj203insdf99223ndf\n' +
    'CSeq: 35 INVITE\n' +
    'From: <sip:user@example.com>;tag=39ansfi3\n' +
    'To: <sip:user@example.edu>;tag=902jndnke3\n' +
    'Content-Length: 0\n' +
    'Contact: <sip:user@host105.example.com>\n' +
    '\n',
);

// §3.2 and §3.3 messages that are syntactically valid: the parser must accept them; the
// transaction/UA layers give them their specific treatment (noted per message).
const badbranch = wire(
  'OPTIONS sip:user@example.com SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.org;tag=33242\n' +
    'Max-Forwards: 3\n' +
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\n' +
    'Accept: application/sdp\n' +
    'Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n\n' +
    'CSeq: 8 OPTIONS\n' +
    'l: 0\n' +
    '\n',
);

const unkscm = wire(
  'OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.net;tag=384\n' +
    'Max-Forwards: 3\n' +
    'Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\n' +
    'CSeq: 3923423 OPTIONS\n' +
    'Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n' +
    'Content-Length: 0\n' +
    '\n',
);

const novelsc = wire(
  'OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.net;tag=384\n' +
    'Max-Forwards: 3\n' +
    'Call-ID: novelsc.asdfasser0q239nwsdfasdkl34\n' +
    'CSeq: 3923423 OPTIONS\n' +
    'Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n' +
    'Content-Length: 0\n' +
    '\n',
);

const unksm2 = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'To: isbn:2983792873\n' +
    'From: <http://www.example.com>;tag=3234233\n' +
    'Call-ID: unksm2.daksdj@hyphenated-host.example.com\n' +
    'CSeq: 234902 REGISTER\n' +
    'Max-Forwards: 70\n' +
    'Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\n' +
    'Contact: <name:John_Smith>\n' +
    'l: 0\n' +
    '\n',
);

const bext01 = wire(
  'OPTIONS sip:user@example.com SIP/2.0\n' +
    'To: sip:j_user@example.com\n' +
    'From: sip:caller@example.net;tag=242etr\n' +
    'Max-Forwards: 6\n' +
    'Call-ID: bext01.0ha0isndaksdj\n' +
    'Require: nothingSupportsThis, nothingSupportsThisEither\n' +
    'Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\n' +
    'CSeq: 8 OPTIONS\n' +
    'Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\n' +
    'Content-Length: 0\n' +
    '\n',
);

const invut = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'Contact: <sip:caller@host5.example.net>\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:caller@example.net;tag=8392034\n' +
    'Max-Forwards: 70\n' +
    'Call-ID: invut.0ha0isndaksdjadsfij34n23d\n' +
    'CSeq: 235448 INVITE\n' +
    'Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\n' +
    'Content-Type: application/unknownformat\n' +
    'Content-Length: 40\n' +
    '\n' +
    '<audio>\n' +
    ' <pcmu port="443"/>\n' +
    '</audio>\n',
);

const regaut01 = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:j.user@example.com;tag=87321hj23128\n' +
    'Max-Forwards: 8\n' +
    'Call-ID: regaut01.0ha0isndaksdj\n' +
    'CSeq: 9338 REGISTER\n' +
    'Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\n' +
    'Authorization: NoOneKnowsThisScheme opaque-data=here\n' +
    'Content-Length:0\n' +
    '\n',
);

const bcast = wire(
  'SIP/2.0 200 OK\n' +
    'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n' +
    'Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\n' +
    'Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\n' +
    'CSeq: 35 INVITE\n' +
    'From: sip:user@example.com;tag=11141343\n' +
    'To: sip:user@example.edu;tag=2229\n' +
    'Content-Length: 154\n' +
    'Content-Type: application/sdp\n' +
    'Contact: <sip:user@host28.example.com>\n' +
    '\n' +
    sdp('192.0.2.198', '192.0.2.198'),
);

const zeromf = wire(
  'OPTIONS sip:user@example.com SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.net;tag=3ghsd41\n' +
    'Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\n' +
    'CSeq: 39234321 OPTIONS\n' +
    'Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\n' +
    'Max-Forwards: 0\n' +
    'Content-Length: 0\n' +
    '\n',
);

const cparam01 = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\n' +
    'Max-Forwards: 70\n' +
    'From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\n' +
    'To: sip:watson@example.com\n' +
    'Call-ID: cparam01.70710@saturn.example.com\n' +
    'CSeq: 2 REGISTER\n' +
    'Contact: sip:+19725552222@gw1.example.net;unknownparam\n' +
    'l: 0\n' +
    '\n',
);

const cparam02 = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\n' +
    'Max-Forwards: 70\n' +
    'From: sip:watson@example.com;tag=838293\n' +
    'To: sip:watson@example.com\n' +
    'Call-ID: cparam02.70710@saturn.example.com\n' +
    'CSeq: 3 REGISTER\n' +
    'Contact: <sip:+19725552222@gw1.example.net;unknownparam>\n' +
    'l: 0\n' +
    '\n',
);

const regescrt = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:user@example.com;tag=8\n' +
    'Max-Forwards: 70\n' +
    'Call-ID: regescrt.k345asrl3fdbv@192.0.2.1\n' +
    'CSeq: 14398234 REGISTER\n' +
    'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n' +
    'M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\n' +
    'L:0\n' +
    '\n',
);

const sdp01 = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'To: sip:j_user@example.com\n' +
    'Contact: <sip:caller@host15.example.net>\n' +
    'From: sip:caller@example.net;tag=234\n' +
    'Max-Forwards: 5\n' +
    'Call-ID: sdp01.ndaksdj9342dasdd\n' +
    'Accept: text/nobodyKnowsThis\n' +
    'CSeq: 8 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw\n' +
    'Content-Length: 150\n' +
    'Content-Type: application/sdp\n' +
    '\n' +
    sdp('192.0.2.5', '192.0.2.5'),
);

const inv2543 = wire(
  'INVITE sip:UserB@example.com SIP/2.0\n' +
    'Via: SIP/2.0/UDP iftgw.example.com\n' +
    'From: <sip:+13035551111@ift.client.example.net;user=phone>\n' +
    'Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\n' +
    'To: sip:+16505552222@ss1.example.net;user=phone\n' +
    'Call-ID: inv2543.1717@ift.client.example.com\n' +
    'CSeq: 56 INVITE\n' +
    'Content-Type: application/sdp\n' +
    '\n' +
    'v=0\n' +
    'o=mhandley 29739 7272939 IN IP4 192.0.2.5\n' +
    's=-\n' +
    'c=IN IP4 192.0.2.5\n' +
    't=0 0\n' +
    'm=audio 49217 RTP/AVP 0\n',
);

// ---------------------------------------------------------------------------------------------
// §3.1.2 Invalid messages (and the §3.3 ones that are invalid at the parse level)

const badinv01 = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:caller@example.net;tag=134161461246\n' +
    'Max-Forwards: 7\n' +
    'Call-ID: badinv01.0ha0isndaksdjasdf3234nas\n' +
    'CSeq: 8 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.15;;,;,,\n' +
    'Contact: "Joe" <sip:joe@example.org>;;;;\n' +
    'Content-Length: 152\n' +
    'Content-Type: application/sdp\n' +
    '\n' +
    sdp('192.0.2.15', '192.0.2.15'),
);

const clerr = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'Max-Forwards: 80\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:caller@example.net;tag=93942939o2\n' +
    'Contact: <sip:caller@hungry.example.net>\n' +
    'Call-ID: clerr.0ha0isndaksdjweiafasdk3\n' +
    'CSeq: 8 INVITE\n' +
    'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 9999\n' +
    '\n' +
    sdp('192.0.2.155', '192.0.2.155'),
);

const ncl = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'Max-Forwards: 254\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:caller@example.net;tag=32394234\n' +
    'Call-ID: ncl.0ha0isndaksdj2193423r542w35\n' +
    'CSeq: 0 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\n' +
    'Contact: <sip:caller@example53.example.net>\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: -999\n' +
    '\n' +
    sdp('192.0.2.53', '192.0.2.53'),
);

const scalar02 = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\n' +
    'To: <sip:user@example.com>\n' +
    'From: <sip:user@example.com>;tag=239232jh3\n' +
    'CSeq: 36893488147419103232 REGISTER\n' +
    'Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\n' +
    'Max-Forwards: 300\n' +
    `Expires: 1${'0'.repeat(100)}\n` +
    'Contact: <sip:user@host129.example.com>\n' +
    '  ;expires=280297596632815\n' +
    'Content-Length: 0\n' +
    '\n',
);

const scalarlg = wire(
  'SIP/2.0 503 Service Unavailable\n' +
    'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\n' +
    'To: <sip:user@example.com>\n' +
    'From: <sip:other@example.net>;tag=2easdjfejw\n' +
    'CSeq: 9292394834772304023312 OPTIONS\n' +
    'Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\n' +
    'Retry-After: 949302838503028349304023988\n' +
    'Warning: 1812 overture "In Progress"\n' +
    'Content-Length: 0\n' +
    '\n',
);

const quotbal = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'To: "Mr. J. User <sip:j.user@example.com>\n' +
    'From: sip:caller@example.net;tag=93334\n' +
    'Max-Forwards: 10\n' +
    'Call-ID: quotbal.aksdj\n' +
    'Contact: <sip:caller@host59.example.net>\n' +
    'CSeq: 8 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 152\n' +
    '\n' +
    sdp('192.0.2.15', '192.0.2.15'),
);

const ltgtruri = wire(
  'INVITE <sip:user@example.com> SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.net;tag=39291\n' +
    'Max-Forwards: 23\n' +
    'Call-ID: ltgtruri.1@192.0.2.5\n' +
    'CSeq: 1 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.5\n' +
    'Contact: <sip:caller@host5.example.net>\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 159\n' +
    '\n' +
    sdp('192.0.2.5', '192.0.2.5', '3149328700'),
);

const lwsruri = wire(
  'INVITE sip:user@example.com; lr SIP/2.0\n' +
    'To: sip:user@example.com;tag=3xfe-9921883-z9f\n' +
    'From: sip:caller@example.net;tag=231413434\n' +
    'Max-Forwards: 5\n' +
    'Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\n' +
    'CSeq: 2130706432 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\n' +
    'Contact: <sip:caller@host1.example.net>\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 159\n' +
    '\n' +
    sdp('192.0.2.1', '192.0.2.1', '3149328700'),
);

const lwsstart = wire(
  'INVITE  sip:user@example.com  SIP/2.0\n' +
    'Max-Forwards: 8\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.net;tag=8814\n' +
    'Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\n' +
    'CSeq: 1893884 INVITE\n' +
    'Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\n' +
    'Contact: <sip:caller@host1.example.net>\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 150\n' +
    '\n' +
    sdp('192.0.2.1', '192.0.2.1'),
);

const trws = wire(
  'OPTIONS sip:remote-target@example.com SIP/2.0\x20\x20\n' +
    'Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093\n' +
    'To: <sip:remote-target@example.com>\n' +
    'From: <sip:local-resource@example.com>;tag=329429089\n' +
    'Call-ID: trws.oicu34958239neffasdhr2345r\n' +
    'Accept: application/sdp\n' +
    'CSeq: 238923 OPTIONS\n' +
    'Max-Forwards: 70\n' +
    'Content-Length: 0\n' +
    '\n',
);

const escruri = wire(
  'INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.net;tag=341518\n' +
    'Max-Forwards: 7\n' +
    'Contact: <sip:caller@host39923.example.net>\n' +
    'Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\n' +
    'CSeq: 149209342 INVITE\n' +
    'Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 150\n' +
    '\n' +
    sdp('192.0.2.1', '192.0.2.1'),
);

const baddate = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:caller@example.net;tag=2234923\n' +
    'Max-Forwards: 70\n' +
    'Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\n' +
    'CSeq: 1392934 INVITE\n' +
    'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n' +
    'Date: Fri, 01 Jan 2010 16:00:00 EST\n' +
    'Contact: <sip:caller@host5.example.net>\n' +
    'Content-Type: application/sdp\n' +
    'Content-Length: 150\n' +
    '\n' +
    sdp('192.0.2.5', '192.0.2.5'),
);

const regbadct = wire(
  'REGISTER sip:example.com SIP/2.0\n' +
    'To: sip:user@example.com\n' +
    'From: sip:user@example.com;tag=998332\n' +
    'Max-Forwards: 70\n' +
    'Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\n' +
    'CSeq: 1 REGISTER\n' +
    'Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\n' +
    'Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\n' +
    'l: 0\n' +
    '\n',
);

const badaspec = wire(
  'OPTIONS sip:user@example.org SIP/2.0\n' +
    'Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\n' +
    'Max-Forwards: 70\n' +
    'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423\n' +
    'To: "Watson, Thomas" < sip:t.watson@example.org >\n' +
    'Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\n' +
    'Accept: application/sdp\n' +
    'CSeq: 3923239 OPTIONS\n' +
    'l: 0\n' +
    '\n',
);

const baddn = wire(
  'OPTIONS sip:t.watson@example.org SIP/2.0\n' +
    'Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n' +
    'Max-Forwards:      70\n' +
    'From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n' +
    'To:      Watson, Thomas <sip:t.watson@example.org>\n' +
    'Call-ID: baddn.31415@c.example.com\n' +
    'Accept: application/sdp\n' +
    'CSeq:    3923239 OPTIONS\n' +
    'l: 0\n' +
    '\n',
);

const badvers = wire(
  'OPTIONS sip:t.watson@example.org SIP/7.0\n' +
    'Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\n' +
    'Max-Forwards:     70\n' +
    'From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\n' +
    'To:      T. Watson <sip:t.watson@example.org>\n' +
    'Call-ID: badvers.31417@c.example.com\n' +
    'CSeq:    1 OPTIONS\n' +
    'l: 0\n' +
    '\n',
);

const mismatch01 = wire(
  'OPTIONS sip:user@example.com SIP/2.0\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:caller@example.net;tag=34525\n' +
    'Max-Forwards: 6\n' +
    'Call-ID: mismatch01.dj0234sxdfl3\n' +
    'CSeq: 8 INVITE\n' +
    'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n' +
    'l: 0\n' +
    '\n',
);

const mismatch02 = wire(
  'NEWMETHOD sip:user@example.com SIP/2.0\n' +
    'To: sip:j.user@example.com\n' +
    'From: sip:caller@example.net;tag=34525\n' +
    'Max-Forwards: 6\n' +
    'Call-ID: mismatch02.dj0234sxdfl3\n' +
    'CSeq: 8 INVITE\n' +
    'Contact: <sip:caller@host.example.net>\n' +
    'Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\n' +
    'Content-Type: application/sdp\n' +
    'l: 138\n' +
    '\n' +
    'v=0\n' +
    'o=mhandley 29739 7272939 IN IP4 192.0.2.1\n' +
    'c=IN IP4 192.0.2.1\n' +
    'm=audio 49217 RTP/AVP 0 12\n' +
    'm=video 3227 RTP/AVP 31\n' +
    'a=rtpmap:31 LPC\n',
);

const bigcode = wire(
  'SIP/2.0 4294967301 better not break the receiver\n' +
    'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n' +
    'Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\n' +
    'CSeq: 353494 INVITE\n' +
    'From: <sip:user@example.com>;tag=39ansfi3\n' +
    'To: <sip:user@example.edu>;tag=902jndnke3\n' +
    'Content-Length: 0\n' +
    'Contact: <sip:user@host105.example.com>\n' +
    '\n',
);

const insuf = wire(
  'INVITE sip:user@example.com SIP/2.0\n' +
    'CSeq: 193942 INVITE\n' +
    'Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\n' +
    'Content-Type: application/sdp\n' +
    'l: 152\n' +
    '\n' +
    sdp('192.0.2.95', '192.0.2.95'),
);

const multi01 = wire(
  'INVITE sip:user@company.com SIP/2.0\n' +
    'Contact: <sip:caller@host25.example.net>\n' +
    'Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\n' +
    'Max-Forwards: 70\n' +
    'CSeq: 5 INVITE\n' +
    'Call-ID: multi01.98asdh@192.0.2.1\n' +
    'CSeq: 59 INVITE\n' +
    'Call-ID: multi01.98asdh@192.0.2.2\n' +
    'From: sip:caller@example.com;tag=3413415\n' +
    'To: sip:user@example.com\n' +
    'To: sip:other@example.net\n' +
    'From: sip:caller@example.net;tag=2923420123\n' +
    'Content-Type: application/sdp\n' +
    'l: 154\n' +
    'Contact: <sip:caller@host36.example.net>\n' +
    'Max-Forwards: 5\n' +
    '\n' +
    sdp('192.0.2.25', '192.0.2.25'),
);

const mcl01 = wire(
  'OPTIONS sip:user@example.com SIP/2.0\n' +
    'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\n' +
    'To: sip:user@example.com\n' +
    'From: sip:other@example.net;tag=3923942\n' +
    'Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\n' +
    'CSeq: 15932 OPTIONS\n' +
    'Content-Length: 13\n' +
    'Max-Forwards: 60\n' +
    'Content-Length: 5\n' +
    'Content-Type: text/plain\n' +
    '\n' +
    "There's no way to know how many octets are supposed to be here.\n",
);

// ---------------------------------------------------------------------------------------------

function parse(t: { log: (...a: unknown[]) => void }, buf: Buffer): SipMessage {
  const m = parseMessage(buf);
  // whatever parses must also survive serialize → parse unchanged (Content-Length aside)
  const again = parseMessage(serializeMessage(m));
  const strip = (x: SipMessage) => x.headers.entries.filter((e) => e.key !== 'content-length');
  if (JSON.stringify(strip(again)) !== JSON.stringify(strip(m)) || !again.body.equals(m.body)) {
    t.log('round trip changed the message');
    throw new Error('round trip changed the message');
  }
  return m;
}

function rejects(buf: Buffer, reasonPart?: string): SipParseError {
  let caught: unknown;
  try {
    parseMessage(buf);
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof SipParseError)) throw new Error(`expected SipParseError, got ${String(caught)}`);
  if (caught.reason.length === 0) throw new Error('empty reason');
  if (reasonPart !== undefined && !caught.reason.includes(reasonPart)) {
    throw new Error(`reason "${caught.reason}" does not mention "${reasonPart}"`);
  }
  return caught;
}

const req = (m: SipMessage) => {
  if (m.type !== 'request') throw new Error('not a request');
  return m;
};
const res = (m: SipMessage) => {
  if (m.type !== 'response') throw new Error('not a response');
  return m;
};

// ---- §3.1.1 valid

test('wsinv: whitespace, folding, compact forms and odd spacing parse', (t) => {
  // the re-typed message is self-consistent: exactly Content-Length (150) bytes follow the headers
  t.is(wsinv.length - (wsinv.indexOf('\r\n\r\n') + 4), 150);
  const m = req(parse(t, wsinv));
  t.is(m.method, 'INVITE');
  t.is(m.uri, 'sip:vivekg@chair-dnrc.example.com;unknownparam');
  const h = m.headers;
  const to = parseNameAddr(h.get('To')!);
  t.is(to.params.tag, '1918181833n');
  t.is(formatUriUser(to.uri), 'vivekg@chair-dnrc.example.com');
  const from = parseNameAddr(h.get('From')!);
  t.is(from.displayName, 'J Rosenberg \\"');
  t.is(from.params.tag, '98asjd8');
  t.is(h.get('Max-Forwards'), '0068');
  t.deepEqual(parseCSeq(h.get('CSeq')!), { seq: 9, method: 'INVITE' });
  t.is(h.get('Subject'), '');
  t.is(h.get('NewFangledHeader'), 'newfangled value continued newfangled value');
  t.is(h.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
  const vias = h.getAll('Via').map(parseVia);
  t.is(vias.length, 3);
  t.deepEqual(vias.map((v) => [v.transport, v.host, v.params.branch]), [
    ['UDP', '192.0.2.2', '390skdjuw'],
    ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
    ['UDP', '192.168.255.111', 'z9hG4bK30239'],
  ]);
  const contact = parseNameAddr(h.get('Contact')!);
  t.is(contact.displayName, 'Quoted string ""');
  t.deepEqual(contact.params, { newparam: 'newvalue', secondparam: null, q: '0.33' });
  t.is(m.body.length, 150);
  t.is(h.entries.length, 15); // 14 header fields in the RFC, one Via field holding two values
});

function formatUriUser(u: { user?: string; host: string }): string {
  return `${u.user}@${u.host}`;
}

test('intmeth: wide range of valid characters', (t) => {
  const m = req(parse(t, intmeth));
  t.is(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
  const u = parseUri(m.uri);
  t.is(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  t.is(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  t.is(u.host, 'example.com');
  const to = parseNameAddr(m.headers.get('To')!);
  t.is(to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7F');
  const from = parseNameAddr(m.headers.get('From')!);
  t.is(from.displayName, "token1~` token2'+_ token3*%!.-");
  t.is(from.params["fromparam''~+*_!.-%"], '"работающий"');
  t.is(from.params.tag, "_token~1'+`*%!-.");
  t.is(m.headers.get("extensionHeader-!.%*+_`'~"), '\uFEFF大停電');
  t.is(m.headers.get('Call-ID'), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
});

test('esc01: valid % escapes', (t) => {
  const m = req(parse(t, esc01));
  t.is(parseUri(m.uri).user, 'sips%3Auser%40example.com');
  t.is(parseUri(m.uri).host, 'example.net');
  t.is(parseNameAddr(m.headers.get('To')!).uri.user, '%75se%72');
  t.is(m.headers.get('Content-Type'), 'application/sdp');
  const c = parseNameAddr(m.headers.get('Contact')!);
  t.deepEqual(c.uri.params, { '%6c%72': null, 'n%61me': 'v%61lue%25%34%31' });
  t.is(m.body.length, 150);
});

test('escnull: escaped nulls in URIs', (t) => {
  const m = req(parse(t, escnull));
  t.is(m.method, 'REGISTER');
  t.deepEqual(m.headers.getAll('Contact').map((c) => parseNameAddr(c).uri.user), ['%00', '%00%00']);
});

test('esc02: % that is not an escape (method, header name)', (t) => {
  const m = req(parse(t, esc02));
  t.is(m.method, 'RE%47IST%45R');
  t.is(parseNameAddr(m.headers.get('To')!).displayName, '%Z%45');
  // C%6Fntact is an unknown header, not Contact
  t.is(m.headers.getAll('Contact').length, 2);
  t.is(m.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
});

test('lwsdisp: no LWS between display name and <', (t) => {
  const m = parse(t, lwsdisp);
  const from = parseNameAddr(m.headers.get('From')!);
  t.is(from.displayName, 'caller');
  t.is(from.params.tag, '323');
});

test('longreq: long values and 34 Via values in mixed spellings', (t) => {
  const m = parse(t, longreq);
  t.is(m.headers.getAll('Via').length, 34);
  const to = parseNameAddr(m.headers.get('To')!);
  t.is(to.uri.port, 6000);
  t.is(to.uri.params[`very${'long'.repeat(25)}parameternamewithnovalue`], null);
  const from = parseNameAddr(m.headers.get('From')!);
  t.is(from.params.tag, `12${'982'.repeat(50)}424`);
  t.is(m.body.length, 150);
});

test('dblreq: only the first of two requests in one datagram is taken', (t) => {
  const m = req(parse(t, dblreq));
  t.is(m.method, 'REGISTER');
  t.is(m.body.length, 0);
  t.is(m.headers.get('Call-ID'), 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
});

test('semiuri: semicolons in the URI user part', (t) => {
  const m = req(parse(t, semiuri));
  const u = parseUri(m.uri);
  t.is(u.user, 'user;par=u%40example.net');
  t.is(u.host, 'example.com');
  t.deepEqual(u.params, {});
  t.deepEqual(m.headers.getAll('Accept'), [
    'application/sdp', 'application/pkcs7-mime', 'multipart/mixed', 'multipart/signed', 'message/sip', 'message/sipfrag',
  ]);
});

test('transports: varied and unknown transports', (t) => {
  const m = parse(t, transports);
  t.deepEqual(m.headers.getAll('Via').map((v) => parseVia(v).transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
});

test('mpart01: multipart body with binary (NUL-bearing) part', (t) => {
  t.is(mpart01Body.length, 553);
  const m = parse(t, mpart01);
  t.true(m.body.equals(mpart01Body));
  t.true(m.body.includes(0));
});

test('unreason: unusual UTF-8 reason phrase', (t) => {
  const m = res(parse(t, unreason));
  t.is(m.status, 200);
  t.is(m.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  t.is(m.body.length, 154);
});

test('noreason: empty reason phrase', (t) => {
  const m = res(parse(t, noreason));
  t.is(m.status, 100);
  t.is(m.reason, '');
});

// ---- §3.2 / §3.3 / §3.4: syntactically valid, handled above the parser

test('badbranch: branch of just the magic cookie parses (transaction layer matches it the RFC 2543 way)', (t) => {
  t.is(parseVia(parse(t, badbranch).headers.get('Via')!).params.branch, 'z9hG4bK');
});

test('unkscm: unknown Request-URI scheme parses (the UA answers 416)', (t) => {
  const m = req(parse(t, unkscm));
  t.deepEqual(parseUri(m.uri), { scheme: 'nobodyknowsthisscheme', user: 'totallyopaquecontent', host: '', params: {}, headers: {} });
});

test('novelsc: known but atypical Request-URI scheme parses (the UA answers 416)', (t) => {
  t.is(parseUri(req(parse(t, novelsc)).uri).scheme, 'soap.beep');
});

test('unksm2: unknown schemes in To, From and Contact parse', (t) => {
  const m = parse(t, unksm2);
  t.is(parseNameAddr(m.headers.get('To')!).uri.scheme, 'isbn');
  t.is(parseNameAddr(m.headers.get('From')!).uri.user, '//www.example.com');
  t.is(parseNameAddr(m.headers.get('Contact')!).uri.scheme, 'name');
});

test('bext01: unknown Require/Proxy-Require parse (the UA answers 420)', (t) => {
  t.deepEqual(parse(t, bext01).headers.getAll('Require'), ['nothingSupportsThis', 'nothingSupportsThisEither']);
});

test('invut: unknown Content-Type parses (the UA answers 415)', (t) => {
  const m = parse(t, invut);
  t.is(m.headers.get('Content-Type'), 'application/unknownformat');
  t.is(m.body.length, 40);
});

test('regaut01: unknown Authorization scheme parses (the registrar challenges it)', (t) => {
  t.is(parse(t, regaut01).headers.get('Authorization'), 'NoOneKnowsThisScheme opaque-data=here');
});

test('bcast: response with a broadcast Via parses (the transaction layer discards it)', (t) => {
  t.is(parse(t, bcast).headers.getAll('Via').length, 2);
});

test('zeromf: Max-Forwards 0 parses (a proxy answers 483, a UA answers OPTIONS)', (t) => {
  t.is(parse(t, zeromf).headers.get('Max-Forwards'), '0');
});

test('cparam01: bare Contact URI with a header parameter', (t) => {
  const c = parseNameAddr(parse(t, cparam01).headers.get('Contact')!);
  t.deepEqual(c.params, { unknownparam: null });
  t.deepEqual(c.uri.params, {});
});

test('cparam02: bracketed Contact URI with a URI parameter', (t) => {
  const c = parseNameAddr(parse(t, cparam02).headers.get('Contact')!);
  t.deepEqual(c.params, {});
  t.deepEqual(c.uri.params, { unknownparam: null });
});

test('regescrt: escaped header in a bracketed Contact URI', (t) => {
  const c = parseNameAddr(parse(t, regescrt).headers.get('Contact')!);
  t.deepEqual(c.uri.headers, { Route: '%3Csip:sip.example.com%3E' });
});

test('sdp01: unacceptable Accept parses (the UA answers 406)', (t) => {
  t.is(parse(t, sdp01).headers.get('Accept'), 'text/nobodyKnowsThis');
});

test('inv2543: RFC 2543 syntax (no Max-Forwards, no branch, no Content-Length over UDP)', (t) => {
  const m = parse(t, inv2543);
  t.false(m.headers.has('Max-Forwards'));
  t.is(m.body.toString('latin1').split('\r\n')[0], 'v=0');
  t.true(m.body.toString('latin1').endsWith('RTP/AVP 0\r\n'));
});

// ---- §3.1.2 invalid

test('badinv01: extraneous header field separators are rejected', (t) => {
  t.regex(rejects(badinv01, 'Via').reason, /parameter/);
});

test('clerr: Content-Length larger than the datagram is rejected', (t) => {
  rejects(clerr, 'Content-Length exceeds datagram');
  t.pass();
});

test('ncl: negative Content-Length is rejected', (t) => {
  rejects(ncl, 'Content-Length');
  t.pass();
});

test('scalar02: overlarge request scalars are rejected', (t) => {
  const e = rejects(scalar02);
  t.regex(e.reason, /CSeq|Max-Forwards|Expires/);
  // still answerable with a stateless 400
  t.is(e.partial?.headers.get('Call-ID'), 'scalar02.23o0pd9vanlq3wnrlnewofjas9ui32');
});

test('scalarlg: overlarge response scalars are rejected', (t) => {
  rejects(scalarlg, 'CSeq');
  t.pass();
});

test('quotbal: unterminated quoted string is rejected', (t) => {
  rejects(quotbal, 'unterminated');
  t.pass();
});

test('ltgtruri: <> around the Request-URI is rejected', (t) => {
  rejects(ltgtruri, 'Request-URI');
  t.pass();
});

test('lwsruri: LWS inside the Request-URI is rejected', (t) => {
  rejects(lwsruri, 'request line');
  t.pass();
});

test('lwsstart: multiple SP between start-line elements is rejected', (t) => {
  rejects(lwsstart, 'request line');
  t.pass();
});

test('trws: SP after the SIP-Version is rejected', (t) => {
  rejects(trws, 'request line');
  t.pass();
});

test('escruri: headers in the Request-URI are rejected', (t) => {
  rejects(escruri, 'Request-URI');
  t.pass();
});

test('baddate: non-GMT Date is rejected', (t) => {
  rejects(baddate, 'Date');
  t.pass();
});

test('regbadct: unbracketed Contact URI with headers is rejected', (t) => {
  rejects(regbadct, 'Contact');
  t.pass();
});

test('badaspec: spaces inside <addr-spec> are rejected', (t) => {
  rejects(badaspec, 'To');
  t.pass();
});

test('baddn: non-token characters in an unquoted display name are rejected', (t) => {
  rejects(baddn, 'From');
  t.pass();
});

test('badvers: unknown SIP version is rejected with a partial message for a 505', (t) => {
  const e = rejects(badvers, 'unsupported SIP version');
  const p = e.partial;
  t.truthy(p);
  t.is(p?.type, 'request');
  t.is(p?.headers.get('Call-ID'), 'badvers.31417@c.example.com');
  t.is(p?.headers.get('CSeq'), '1 OPTIONS');
});

test('mismatch01: start line and CSeq method mismatch is rejected', (t) => {
  rejects(mismatch01, 'CSeq method');
  t.pass();
});

test('mismatch02: unknown method with CSeq method mismatch is rejected', (t) => {
  rejects(mismatch02, 'CSeq method');
  t.pass();
});

test('bigcode: overlarge response code is rejected', (t) => {
  rejects(bigcode, 'status code');
  t.pass();
});

// ---- §3.3 messages invalid at the parse level

test('insuf: missing required header fields are rejected', (t) => {
  const e = rejects(insuf, 'missing');
  t.is(e.partial?.headers.get('CSeq'), '193942 INVITE');
});

test('multi01: multiple values in single-value required fields are rejected', (t) => {
  rejects(multi01, 'multiple');
  t.pass();
});

test('mcl01: multiple different Content-Length values are rejected', (t) => {
  rejects(mcl01, 'Content-Length');
  t.pass();
});
