/**
 * Telephone numbers in URIs (RFC 3966 `tel:`, and `sip:` URIs with `user=phone`, RFC 3261
 * §19.1.6): the number a call is for, without the visual separators RFC 3966 §5.1.1 lets a caller
 * write (`-`, `.`, `(`, `)`), and the digits two numbers are compared by. A call to a number routes
 * like a call to a user part: the engine compares the digits with the lines' registration names.
 * @module
 */
import type { SipUri } from './grammar.js';

/** Characters of a telephone-subscriber that are visual separators only (RFC 3966 §5.1.1). */
const VISUAL_SEPARATORS = /[-.()]/g;

/** A phone number: an optional `+`, then digits, `*`, `#` or the hex digits A–F of RFC 3966. */
const PHONE_NUMBER = /^\+?[0-9A-Fa-f*#]*[0-9][0-9A-Fa-f*#]*$/;

/**
 * The telephone number of a URI with its visual separators removed (`tel:+1-555-0100` →
 * `+15550100`, `tel:1234;phone-context=example.com` → `1234`, `sip:+1.555.0100@h;user=phone` →
 * `+15550100`), or undefined when the URI names no number (another scheme, a SIP user that is
 * not a phone number). Percent-escapes in the number are decoded first.
 *
 * @param uri - a parsed URI
 * @returns the number, or undefined
 */
export function telephoneNumberOf(uri: SipUri): string | undefined {
  const isTel = uri.scheme === 'tel';
  const isPhoneUser = (uri.scheme === 'sip' || uri.scheme === 'sips') && uri.params['user']?.toLowerCase() === 'phone';
  if ((!isTel && !isPhoneUser) || uri.user === undefined) return undefined;
  let raw = uri.user;
  try {
    raw = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  // a sip: user=phone user part may carry the number's own parameters (`+1555;isub=2`)
  const semi = raw.indexOf(';');
  const number = (semi < 0 ? raw : raw.slice(0, semi)).replace(VISUAL_SEPARATORS, '');
  return PHONE_NUMBER.test(number) ? number : undefined;
}

/**
 * The digits a number is compared by: the number without its `+` and visual separators, case
 * folded; undefined when `text` is not a phone number. `+1-555-0100` and `15550100` compare equal.
 *
 * @param text - a number or a user name
 * @returns the digits, or undefined
 */
export function phoneDigits(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const number = text.replace(VISUAL_SEPARATORS, '');
  if (!PHONE_NUMBER.test(number)) return undefined;
  return (number.charCodeAt(0) === 43 /* + */ ? number.slice(1) : number).toUpperCase();
}
