/**
 * The one guard every public procedure of the facade wears. LanScape's contract is that a
 * procedure never throws: a foreign `this` is SipInvalidHandle, a stopped engine is
 * SipMediaEngineNotInitialized, and anything unexpected inside is reported and turned into the
 * generic failure code. Written once here, as a TC39 (standard) method decorator, instead of a
 * hand-written preamble per procedure that a new procedure can forget.
 * @module
 */
import { TelephonyReturnValue as T } from './returnCodes.js';

/** What the guard asks of the engine class it protects (given once, by the facade module). */
export interface ProcedureHost<E extends object> {
  /** Whether the engine is started (the procedures marked `started` need it). */
  started(engine: E): boolean;
  /** Reports an exception a procedure let escape (the engine's 'error' path). */
  error(engine: E, err: unknown, procedure: string): void;
}

/**
 * How a procedure fails in its own shape. `fail` builds the failure value from a code (a plain
 * code needs none); `async` says the procedure returns a Promise (the guard's own answers are
 * Promises too then); `started: false` lets it run on a stopped engine.
 */
export interface ProcedureOptions {
  /** Builds the procedure's failure value from a code; the code itself when absent. */
  fail?: (rc: T) => unknown;
  /** The procedure returns a Promise. */
  async?: boolean;
  /** The procedure needs a started engine (the default). */
  started?: boolean;
}

/** What the failure builder of `O` returns (a code when it has none). */
type FailValue<O extends ProcedureOptions> = O['fail'] extends (rc: T) => infer F ? F : T;

/** The return type a procedure with options `O` must have: the failure value, in a Promise when async. */
type Expected<O extends ProcedureOptions> = O['async'] extends true ? Promise<FailValue<O>> : FailValue<O>;

/** The procedure's result without its Promise. */
type Settled<R> = R extends Promise<infer U> ? U : R;

/**
 * The method types a decorator with options `O` accepts: its result must have the failure's
 * shape both ways (so a forgotten `async`, or a failure missing a field, does not compile).
 */
type Guardable<This, Args extends unknown[], R, O extends ProcedureOptions> = [FailValue<O>] extends [Settled<R>]
  ? [R] extends [Expected<O>]
    ? (this: This, ...args: Args) => R
    : never
  : never;

/** The generic failure code a procedure returns when it threw (LanScape's "the operation failed"). */
export const PROCEDURE_FAILURE = T.SipCallFailure;

/** Every guarded procedure (the wrappers), so a test can tell a guarded procedure from a bare method. */
const guardedProcedures = new WeakSet<object>();

/** Whether `fn` is a procedure wearing the guard. */
export function isGuardedProcedure(fn: unknown): boolean {
  return typeof fn === 'function' && guardedProcedures.has(fn);
}

/**
 * Builds the `@procedure(...)` decorator for one engine class. Engines are recognized by a brand
 * set when they are constructed (not by `instanceof`, which `Object.create(prototype)` fools).
 */
export function procedureGuard<E extends object>(host: ProcedureHost<E>) {
  const engines = new WeakSet<object>();
  const isEngine = (x: unknown): x is E => typeof x === 'object' && x !== null && engines.has(x);

  function procedure<const O extends ProcedureOptions = Record<never, never>>(opts: O = {} as O) {
    const fail = opts.fail ?? ((rc: T) => rc);
    const needsStart = opts.started !== false;
    return <This extends E, Args extends unknown[], R>(
      method: Guardable<This, Args, R, O>,
      context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
    ): ((this: This, ...args: Args) => R) => {
      const name = String(context.name);
      context.addInitializer(function (this: This) {
        engines.add(this);
      });
      const answer = (rc: T): R => (opts.async ? Promise.resolve(fail(rc)) : fail(rc)) as R;
      const failed = (self: E, err: unknown): R => {
        try {
          host.error(self, err, name);
        } catch {
          // a broken error listener must not turn a failure code into a throw
        }
        return answer(PROCEDURE_FAILURE);
      };
      const guarded = function (this: This, ...args: Args): R {
        const self: unknown = this;
        if (!isEngine(self)) return answer(T.SipInvalidHandle);
        try {
          if (needsStart && !host.started(self)) return answer(T.SipMediaEngineNotInitialized);
          const r = (method as (this: This, ...args: Args) => R).apply(this, args);
          if (opts.async) return Promise.resolve(r).then(undefined, (err: unknown) => failed(self, err)) as R;
          return r;
        } catch (err) {
          return failed(self, err);
        }
      };
      Object.defineProperty(guarded, 'name', { value: name });
      guardedProcedures.add(guarded);
      return guarded;
    };
  }

  return { procedure, isEngine };
}
