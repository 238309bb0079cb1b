/**
 * The facade's contract that no procedure throws, checked on every public procedure at once:
 * the list comes from the engine's prototype and its declaration file (the public surface), so
 * a procedure added later is called here without anyone remembering to add it.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';
import { isGuardedProcedure, procedureGuard, PROCEDURE_FAILURE } from '../engine/procedure.js';
import { startEngine } from './helpers/engine.js';

/** Public methods as the declaration file states them (private members carry no signature there). */
function publicMethods(): string[] {
  const dts = readFileSync(fileURLToPath(new URL('../engine/VoipMediaEngine.d.ts', import.meta.url)), 'utf8');
  const body = dts.slice(dts.indexOf('export declare class VoipMediaEngine'));
  const names = new Set<string>();
  for (const m of body.matchAll(/^ {4}(?:static )?([A-Za-z_$][\w$]*)(?:<[^>]*>)?\(/gm)) if (m[1] !== 'constructor') names.add(m[1]!);
  return [...names];
}

/** Own methods of the prototype (accessors left out). */
function prototypeMethods(): string[] {
  return Object.getOwnPropertyNames(VoipMediaEngine.prototype).filter((n) => {
    const d = Object.getOwnPropertyDescriptor(VoipMediaEngine.prototype, n);
    return n !== 'constructor' && typeof d?.value === 'function';
  });
}

/** Query procedures that answer a plain number, not a code. */
const VALUE_QUERIES = new Set(['getSipPort', 'lineForIncomingCall']);

const hostile = {
  toString(): string {
    throw new Error('absurd toString');
  },
  valueOf(): number {
    throw new Error('absurd valueOf');
  },
};

/** Absurd argument lists, the same for every procedure. */
const ARGUMENT_SETS: unknown[][] = [
  [],
  Array(9).fill(null),
  [-1, NaN, Infinity, -0, 2 ** 53, -7, 1e300, 0.5, -1],
  Array(9).fill(''),
  Array(9).fill(Symbol('absurd')),
  Array(9).fill(hostile),
  [[], [null], [NaN], {}, () => undefined, true, false, 'x'.repeat(70_000), Buffer.alloc(0)],
  [{ sampleRate: -1, onHold: 'yes', port: -5, host: 'not an address' }, 1e9, 'sip:', '\r\n', 1e9, 1e9, -1, 1e9, 'x'],
];

function isCode(v: unknown): boolean {
  return typeof v === 'number' && typeof T[v] === 'string';
}

function judge(name: string, value: unknown): string | undefined {
  if (VALUE_QUERIES.has(name)) return typeof value === 'number' ? undefined : `${name} answered ${String(value)}, not a number`;
  if (isCode(value)) return undefined;
  if (typeof value === 'object' && value !== null && isCode((value as { result?: unknown }).result)) return undefined;
  return `${name} answered ${String(value)}, not a TelephonyReturnValue`;
}

/** Calls every public procedure with `self` as `this` and every absurd argument list. */
async function callEverything(self: unknown, skip: ReadonlySet<string> = new Set()): Promise<string[]> {
  const problems: string[] = [];
  const proto = VoipMediaEngine.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of publicMethods()) {
    if (skip.has(name)) continue;
    for (const args of ARGUMENT_SETS) {
      // starting a detached or stopped engine with defaulted parameters would bind port 5060
      if (name === 'startSipTelephony' && (args.length === 0 || args[0] === undefined)) continue;
      let value: unknown;
      try {
        value = proto[name]!.apply(self, args);
      } catch (err) {
        problems.push(`${name} threw ${String(err)}`);
        continue;
      }
      if (value instanceof Promise) {
        try {
          value = await value;
        } catch (err) {
          problems.push(`${name} rejected with ${String(err)}`);
          continue;
        }
      }
      const p = judge(name, value);
      if (p) problems.push(p);
    }
  }
  return problems;
}

test('every public procedure wears the guard, and every prototype method the declaration file calls public is one', (t) => {
  const pub = publicMethods();
  t.true(pub.length > 100, `found ${pub.length} public procedures`);
  const proto = VoipMediaEngine.prototype as unknown as Record<string, unknown>;
  const bare = pub.filter((n) => !isGuardedProcedure(proto[n]));
  t.deepEqual(bare, [], 'public procedures without the @procedure guard');
  const own = new Set(prototypeMethods());
  t.deepEqual(pub.filter((n) => !own.has(n)), [], 'every declared procedure is on the prototype');
});

test('a procedure called with this undefined, {}, null or a bare prototype answers SipInvalidHandle in its own shape', async (t) => {
  for (const self of [undefined, null, {}, Object.create(VoipMediaEngine.prototype) as unknown]) {
    t.deepEqual(await callEverything(self), []);
  }
  const proto = VoipMediaEngine.prototype;
  t.is(proto.getNumPhoneLines.call(undefined as never).result, T.SipInvalidHandle);
  t.deepEqual(proto.getNumPhoneLines.call({} as never), { result: T.SipInvalidHandle, numPhoneLines: 0 });
  t.is(await proto.makeCall.call(undefined as never, 'bob', '127.0.0.1', 5060, -1, false, 0), T.SipInvalidHandle);
  t.is(proto.sendMessage.call({} as never, 0, 'text', 'plain', 'x').result, T.SipInvalidHandle);
  t.is(proto.getSipPort.call(undefined as never), 0);
  t.is(proto.lineForIncomingCall.call(undefined as never), -1);
});

test('on an engine never started every procedure answers a code (SipMediaEngineNotInitialized where it needs one)', async (t) => {
  const engine = new VoipMediaEngine();
  const errors: unknown[] = [];
  engine.on('error', (e) => errors.push(e));
  t.deepEqual(await callEverything(engine), []);
  t.is(engine.getNumPhoneLines().result, T.SipMediaEngineNotInitialized);
  t.is(engine.disableSipProxyServer(), T.SipMediaEngineNotInitialized);
  t.is(engine.setCallHoldType(0), T.SipMediaEngineNotInitialized);
  t.is(engine.getRegistrarBindings().result, T.SipMediaEngineNotInitialized);
  t.is(await engine.sendSipKeepAlive('127.0.0.1', 5060, true, 10), T.SipMediaEngineNotInitialized);
  await engine.disableMetrics();
  if (errors.length) t.log(`caught inside procedures: ${errors.map(String).join('; ')}`);
});

test('on a started engine, then a stopped one, absurd arguments get codes, never a throw or a rejection', async (t) => {
  const e = await startEngine(t, { numPhoneLinesRequested: 2 });
  const errors: unknown[] = [];
  e.engine.on('error', (err) => errors.push(err));
  t.deepEqual(await callEverything(e.engine, new Set(['stopSipTelephony'])), []);
  await e.engine.disableMetrics();
  t.is(await e.engine.stopSipTelephony(), T.SipSuccess);
  t.deepEqual(await callEverything(e.engine), []);
  await e.engine.disableMetrics();
  if (errors.length) t.log(`caught inside procedures: ${errors.map(String).join('; ')}`);
});

// ------------------------------------------------------------------ the guard itself, on a fake engine

interface Fake {
  running: boolean;
  errors: unknown[];
}
const { procedure } = procedureGuard<Fake>({
  started: (f) => f.running,
  error: (f, err) => f.errors.push(err),
});

class FakeEngine implements Fake {
  running = true;
  errors: unknown[] = [];
  @procedure()
  throws(): T {
    throw new Error('bug');
  }
  @procedure({ async: true })
  rejects(): Promise<T> {
    return Promise.reject(new Error('async bug'));
  }
  @procedure({ fail: (result: T) => ({ result, items: [] as number[] }) })
  query(): { result: T; items: number[] } {
    return { result: T.SipSuccess, items: [1] };
  }
  @procedure({ async: true, started: false })
  anytime(): Promise<T> {
    return Promise.resolve(T.SipSuccess);
  }
}

test('the guard: an exception or a rejection is reported and answered with the generic failure, in the result shape', async (t) => {
  const f = new FakeEngine();
  t.is(f.throws(), PROCEDURE_FAILURE);
  t.is(PROCEDURE_FAILURE, T.SipCallFailure);
  t.is(await f.rejects(), T.SipCallFailure);
  t.is(f.errors.length, 2);
  t.deepEqual(f.query(), { result: T.SipSuccess, items: [1] });
  f.running = false;
  t.deepEqual(f.query(), { result: T.SipMediaEngineNotInitialized, items: [] });
  t.is(await f.anytime(), T.SipSuccess, 'started: false runs on a stopped engine');
  t.true(f.rejects() instanceof Promise, 'an async procedure answers a Promise even from the guard');
  t.is(await f.rejects(), T.SipMediaEngineNotInitialized);
  t.deepEqual(FakeEngine.prototype.query.call({} as never), { result: T.SipInvalidHandle, items: [] });
  t.is(FakeEngine.prototype.throws.name, 'throws');
});

test('the guard: an error listener that throws does not turn the failure code into a throw', (t) => {
  const { procedure: p } = procedureGuard<{ x: number }>({
    started: () => true,
    error: () => {
      throw new Error('listener bug');
    },
  });
  class Odd {
    x = 1;
    @p()
    bad(): T {
      throw new Error('bug');
    }
  }
  t.is(new Odd().bad(), T.SipCallFailure);
});
