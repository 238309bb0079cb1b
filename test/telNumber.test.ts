/**
 * Telephone numbers in URIs (sip/telNumber.ts): the number of tel: and user=phone URIs without
 * visual separators, and the digits numbers and line names are compared by.
 */
import test from 'ava';
import { parseUri } from '../sip/grammar.js';
import { phoneDigits, telephoneNumberOf } from '../sip/telNumber.js';

test('a tel: or user=phone URI gives its number without visual separators; other URIs none', (t) => {
  t.is(telephoneNumberOf(parseUri('tel:+1-555-0100')), '+15550100');
  t.is(telephoneNumberOf(parseUri('tel:1234;phone-context=example.com')), '1234');
  t.is(telephoneNumberOf(parseUri('tel:*67#;phone-context=+1')), '*67#');
  t.is(telephoneNumberOf(parseUri('sip:+1.555.0100;isub=2@example.com;user=phone')), '+15550100');
  t.is(telephoneNumberOf(parseUri('sip:+15550100@example.com')), undefined, 'no user=phone: a user name');
  t.is(telephoneNumberOf(parseUri('tel:alice')), undefined, 'not a number');
  t.is(telephoneNumberOf(parseUri('mailto:1234@example.com')), undefined);
});

test('numbers compare by their digits: the + and separators do not count, user names are no numbers', (t) => {
  t.is(phoneDigits('+1-555-0100'), '15550100');
  t.is(phoneDigits('15550100'), '15550100');
  t.is(phoneDigits('(555) 0100'), undefined, 'a space is no visual separator of RFC 3966');
  t.is(phoneDigits('bob'), undefined);
  t.is(phoneDigits('+'), undefined);
  t.is(phoneDigits(undefined), undefined);
  t.is(phoneDigits('12ab'), '12AB', 'RFC 3966 allows hex digits; case folded');
});
