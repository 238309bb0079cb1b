/**
 * PIDF, the Presence Information Data Format of RFC 3863: building the document a presentity
 * sends in NOTIFY and PUBLISH (one tuple, basic open/closed, a note with the status text), and
 * reading the documents other user agents send.
 *
 * The reader sits on a tiny XML parser written for this subset: elements, attributes, text,
 * character and predefined entity references, comments, CDATA and processing instructions.
 * It checks well-formedness (one root, balanced tags, quoted attributes, known entities) so a
 * body that is not XML is told apart from a PIDF that merely lacks fields; DOCTYPE is refused
 * (no DTDs, no entity expansion attacks). Everything else is read tolerantly: namespace
 * prefixes are ignored, unknown elements skipped.
 * @module
 */

/** Largest PIDF body read; bigger ones are refused before parsing. */
export const MAX_PIDF_BYTES = 65536;

/** Deepest element nesting accepted. */
const MAX_DEPTH = 64;

/** One element of a parsed XML document. */
export interface XmlElement {
  /** Qualified name as written (`dm:person`). */
  name: string;
  /** Local name, without the namespace prefix (`person`). */
  local: string;
  /** Attributes by qualified name, values with references resolved. */
  attrs: Record<string, string>;
  /** Child elements in order. */
  children: XmlElement[];
  /** The element's own text content (concatenated, references resolved). */
  text: string;
}

/** Result of {@link parseXml}: the root element, or why the text is not well-formed XML. */
export type XmlParseResult = { ok: true; root: XmlElement } | { ok: false; reason: string };

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

class XmlError extends Error {}

/** Resolves `&...;` references in text or an attribute value; throws XmlError on a bad one. */
function decodeReferences(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&]*);|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) throw new XmlError('bare & in text');
    if (ref.startsWith('#x') || ref.startsWith('#X')) {
      const cp = /^[0-9A-Fa-f]{1,6}$/.test(ref.slice(2)) ? parseInt(ref.slice(2), 16) : NaN;
      if (!(cp > 0 && cp <= 0x10ffff)) throw new XmlError(`bad character reference ${m}`);
      return String.fromCodePoint(cp);
    }
    if (ref.startsWith('#')) {
      const cp = /^[0-9]{1,7}$/.test(ref.slice(1)) ? Number(ref.slice(1)) : NaN;
      if (!(cp > 0 && cp <= 0x10ffff)) throw new XmlError(`bad character reference ${m}`);
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[ref];
    if (v === undefined) throw new XmlError(`unknown entity ${m}`);
    return v;
  });
}

/**
 * Parses an XML document (the subset above). Never throws: malformed text gives
 * `{ ok: false, reason }`.
 */
export function parseXml(text: string): XmlParseResult {
  try {
    return { ok: true, root: new XmlReader(text).document() };
  } catch (err) {
    if (err instanceof XmlError) return { ok: false, reason: err.message };
    return { ok: false, reason: 'unreadable XML' };
  }
}

/** A cursor over the document text. */
class XmlReader {
  private i = 0;

  constructor(private readonly s: string) {
    if (s.charCodeAt(0) === 0xfeff) this.i = 1;
  }

  document(): XmlElement {
    let root: XmlElement | undefined;
    for (;;) {
      this.skipSpace();
      if (this.i >= this.s.length) break;
      if (!this.s.startsWith('<', this.i)) throw new XmlError('text outside the root element');
      if (this.s.startsWith('<?', this.i)) this.skipPast('?>', 'unterminated processing instruction');
      else if (this.s.startsWith('<!--', this.i)) this.skipComment();
      else if (this.s.startsWith('<!', this.i)) throw new XmlError('DOCTYPE and declarations are not accepted');
      else {
        if (root) throw new XmlError('more than one root element');
        root = this.element(0);
      }
    }
    if (!root) throw new XmlError('no root element');
    return root;
  }

  private skipSpace(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private skipPast(end: string, err: string): void {
    const j = this.s.indexOf(end, this.i);
    if (j < 0) throw new XmlError(err);
    this.i = j + end.length;
  }

  private skipComment(): void {
    const j = this.s.indexOf('-->', this.i + 4);
    if (j < 0) throw new XmlError('unterminated comment');
    this.i = j + 3;
  }

  private name(): string {
    const start = this.i;
    if (!NAME_START.test(this.s[this.i] ?? '')) throw new XmlError(`bad name at offset ${this.i}`);
    this.i++;
    while (this.i < this.s.length && NAME_CHAR.test(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  /** Reads an element whose `<` is at the cursor. */
  private element(depth: number): XmlElement {
    if (depth > MAX_DEPTH) throw new XmlError('elements nested too deeply');
    this.i++; // <
    const name = this.name();
    const el: XmlElement = { name, local: name.slice(name.indexOf(':') + 1), attrs: {}, children: [], text: '' };
    for (;;) {
      const before = this.i;
      this.skipSpace();
      const c = this.s[this.i];
      if (c === undefined) throw new XmlError(`unterminated tag <${name}>`);
      if (c === '/') {
        if (this.s[this.i + 1] !== '>') throw new XmlError(`bad empty tag <${name}>`);
        this.i += 2;
        return el;
      }
      if (c === '>') {
        this.i++;
        break;
      }
      if (this.i === before) throw new XmlError(`attributes of <${name}> must be separated by space`);
      const attr = this.name();
      this.skipSpace();
      if (this.s[this.i] !== '=') throw new XmlError(`attribute ${attr} without a value`);
      this.i++;
      this.skipSpace();
      const q = this.s[this.i];
      if (q !== '"' && q !== "'") throw new XmlError(`attribute ${attr} value not quoted`);
      const end = this.s.indexOf(q, this.i + 1);
      if (end < 0) throw new XmlError(`unterminated value of ${attr}`);
      const raw = this.s.slice(this.i + 1, end);
      if (raw.includes('<')) throw new XmlError(`< in the value of ${attr}`);
      if (attr in el.attrs) throw new XmlError(`attribute ${attr} repeated`);
      el.attrs[attr] = decodeReferences(raw);
      this.i = end + 1;
    }
    // content
    for (;;) {
      const lt = this.s.indexOf('<', this.i);
      if (lt < 0) throw new XmlError(`element <${name}> not closed`);
      const chunk = this.s.slice(this.i, lt);
      if (chunk.includes(']]>')) throw new XmlError(']]> in text');
      el.text += decodeReferences(chunk);
      this.i = lt;
      if (this.s.startsWith('</', lt)) {
        this.i += 2;
        const close = this.name();
        if (close !== name) throw new XmlError(`</${close}> closes <${name}>`);
        this.skipSpace();
        if (this.s[this.i] !== '>') throw new XmlError(`bad closing tag </${close}`);
        this.i++;
        return el;
      }
      if (this.s.startsWith('<!--', lt)) this.skipComment();
      else if (this.s.startsWith('<![CDATA[', lt)) {
        const end = this.s.indexOf(']]>', lt + 9);
        if (end < 0) throw new XmlError('unterminated CDATA section');
        el.text += this.s.slice(lt + 9, end);
        this.i = end + 3;
      } else if (this.s.startsWith('<?', lt)) this.skipPast('?>', 'unterminated processing instruction');
      else if (this.s.startsWith('<!', lt)) throw new XmlError('declarations are not accepted inside elements');
      else el.children.push(this.element(depth + 1));
    }
  }
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${({ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);
}

/** What a presentity publishes: the input of {@link buildPidf}. */
export interface PidfStatus {
  /** The presentity's URI, the `entity` attribute (`sip:alice@example.com`, `pres:` also fine). */
  entity: string;
  /** Reachable for communication (`open`) or not (`closed`). */
  basic: 'open' | 'closed';
  /** Human status text ("In a meeting"); omitted when empty. */
  note?: string;
  /** Tuple id (an XML ID: starts with a letter). Default `t1`. */
  tupleId?: string;
  /** Contact URI of the tuple, when wanted. */
  contact?: string;
}

/** Builds an RFC 3863 document with one tuple. Control characters in the note are dropped. */
export function buildPidf(status: PidfStatus): string {
  const id = status.tupleId && /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(status.tupleId) ? status.tupleId : 't1';
  // eslint-disable-next-line no-control-regex
  const note = (status.note ?? '').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${escapeXml(status.entity)}">`,
    ` <tuple id="${id}">`,
    `  <status><basic>${status.basic}</basic></status>`,
  ];
  if (status.contact) lines.push(`  <contact>${escapeXml(status.contact)}</contact>`);
  if (note) lines.push(`  <note>${escapeXml(note)}</note>`);
  lines.push(' </tuple>', '</presence>', '');
  return lines.join('\r\n');
}

/** One tuple read from a PIDF document. */
export interface PidfTuple {
  /** Its id attribute ('' when absent). */
  id: string;
  /** `open`, `closed`, or undefined when the tuple states no basic status. */
  basic?: 'open' | 'closed';
  /** Its first note, if any. */
  note?: string;
  /** Its contact, if any. */
  contact?: string;
}

/** A PIDF document as read by {@link parsePidf}. */
export interface PidfDocument {
  /** The `entity` attribute ('' when absent). */
  entity: string;
  /** Every tuple. */
  tuples: PidfTuple[];
  /** Overall: `open` when any tuple is open, else `closed` (no tuples or no basic: closed). */
  basic: 'open' | 'closed';
  /** The status text: the note of the first open tuple, else a presence-level note, else any note. */
  note: string;
}

/** Result of {@link parsePidf}: `not-xml` for a body that is not well-formed, `not-pidf` for other XML. */
export type PidfParseResult = { ok: true; pidf: PidfDocument } | { ok: false; error: 'not-xml' | 'not-pidf' | 'too-large'; reason: string };

function firstChild(el: XmlElement, local: string): XmlElement | undefined {
  return el.children.find((c) => c.local === local);
}

function findDeep(el: XmlElement, local: string): XmlElement | undefined {
  for (const c of el.children) {
    if (c.local === local) return c;
    const d = findDeep(c, local);
    if (d) return d;
  }
  return undefined;
}

/** Reads a PIDF body (text or bytes, UTF-8). Never throws. */
export function parsePidf(body: string | Buffer): PidfParseResult {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_PIDF_BYTES) return { ok: false, error: 'too-large', reason: `PIDF body of ${size} bytes` };
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const xml = parseXml(text);
  if (!xml.ok) return { ok: false, error: 'not-xml', reason: xml.reason };
  const root = xml.root;
  if (root.local !== 'presence') return { ok: false, error: 'not-pidf', reason: `root element is <${root.name}>, not <presence>` };
  const tuples: PidfTuple[] = root.children
    .filter((c) => c.local === 'tuple')
    .map((tu) => {
      const basicText = firstChild(firstChild(tu, 'status') ?? tu, 'basic')?.text.trim().toLowerCase();
      const note = firstChild(tu, 'note')?.text.trim();
      const contact = firstChild(tu, 'contact')?.text.trim();
      return {
        id: tu.attrs['id'] ?? '',
        basic: basicText === 'open' || basicText === 'closed' ? basicText : undefined,
        ...(note !== undefined ? { note } : {}),
        ...(contact !== undefined ? { contact } : {}),
      };
    });
  const open = tuples.find((t) => t.basic === 'open');
  const note = open?.note ?? firstChild(root, 'note')?.text.trim() ?? tuples.find((t) => t.note)?.note ?? findDeep(root, 'note')?.text.trim() ?? '';
  return { ok: true, pidf: { entity: root.attrs['entity'] ?? '', tuples, basic: open ? 'open' : 'closed', note } };
}
