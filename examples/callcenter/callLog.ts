/**
 * The call log: one row per call (inbound from the trunk, or placed outbound for an agent) in SQLite (better-sqlite3, synchronous and in-process,
 * so a row is written the moment its event happens and nothing is lost at Ctrl-C), and the day's
 * figures the supervisor sees, computed by SQL over the same rows.
 * @module
 */
import Database from 'better-sqlite3';

/** How a call ended. `failed`: an outbound call that was not answered (by the agent or the number called). */
export type CallOutcome = 'answered' | 'abandoned' | 'message' | 'failed';

/** Who called: a caller from outside (`inbound`) or an agent calling out over the trunk (`outbound`). */
export type CallDirection = 'inbound' | 'outbound';

/** One call as logged; times are epoch milliseconds. */
export interface CallRecord {
  /** The call center's id of the call. */
  id: string;
  /** Inbound or outbound. */
  direction: CallDirection;
  /** The outside party: who called (the From header's user, or the whole header when it has none), or the number an outbound call went to. */
  caller: string;
  /** Skill queue chosen in the menu, or null when the caller never chose. */
  queue: string | null;
  /** Agent who answered, or null. */
  agent: string | null;
  /** When the call reached the call center. */
  startMs: number;
  /** When an agent answered (outbound: when the number called answered), or null. */
  answerMs: number | null;
  /** When the call ended, or null while it runs. */
  endMs: number | null;
  /** Time in the queue (from entering it to an agent's answer, or to the end), or null. */
  waitMs: number | null;
  /** How it ended, or null while it runs. */
  outcome: CallOutcome | null;
  /** Final MOS of the caller's leg (ITU-T G.107 estimate from the engine), or null. */
  mos: number | null;
  /** The two-channel recording (left the outside party, right what the outside party heard), or null. */
  recordingPath: string | null;
  /** The message the caller left, or null. */
  messagePath: string | null;
}

/** The day's figures of the floor: inbound calls, and the number of outbound ones apart. */
export interface DayFigures {
  /** Inbound calls that reached the call center today. */
  calls: number;
  /** Of those, answered by an agent: counted at the answer, so calls in progress are in. */
  answered: number;
  /** Of those, ended by the caller before an agent answered (messages left not counted). */
  abandoned: number;
  /** Average time in the queue of today's calls that queued, ms (0 when none). */
  averageWaitMs: number;
  /** Average final MOS of today's answered inbound calls that have ended (0 when none). */
  averageMos: number;
  /** Outbound calls placed today (answered or not). */
  outbound: number;
}

interface Row {
  id: string;
  direction: CallDirection;
  caller: string;
  queue: string | null;
  agent: string | null;
  start_ms: number;
  answer_ms: number | null;
  end_ms: number | null;
  wait_ms: number | null;
  outcome: CallOutcome | null;
  mos: number | null;
  recording_path: string | null;
  message_path: string | null;
}

/** The SQLite call log. `file` ':memory:' keeps it in memory (tests). */
export class CallLog {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement<[string, CallDirection, string, number]>;
  private readonly nextStmt: Database.Statement<[], { n: number }>;
  private readonly updateStmt: Database.Statement<Row>;
  private readonly getStmt: Database.Statement<[string], Row>;

  /** Opens (and creates when needed) the log in `file`. */
  constructor(readonly file: string) {
    this.db = new Database(file);
    // WAL: the page of part B may read while the floor writes
    if (file !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS calls (
      id TEXT PRIMARY KEY,
      direction TEXT NOT NULL DEFAULT 'inbound',
      caller TEXT NOT NULL,
      queue TEXT,
      agent TEXT,
      start_ms INTEGER NOT NULL,
      answer_ms INTEGER,
      end_ms INTEGER,
      wait_ms INTEGER,
      outcome TEXT,
      mos REAL,
      recording_path TEXT,
      message_path TEXT
    );
    CREATE INDEX IF NOT EXISTS calls_start ON calls (start_ms);`);
    // a log written before outbound calls existed: its rows were all inbound
    const columns = this.db.prepare<[], { name: string }>('PRAGMA table_info(calls)').all();
    if (!columns.some((c) => c.name === 'direction')) this.db.exec("ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound'");
    this.insertStmt = this.db.prepare('INSERT INTO calls (id, direction, caller, start_ms) VALUES (?, ?, ?, ?)');
    this.updateStmt = this.db.prepare(`UPDATE calls SET queue = @queue, agent = @agent, answer_ms = @answer_ms, end_ms = @end_ms,
      wait_ms = @wait_ms, outcome = @outcome, mos = @mos, recording_path = @recording_path, message_path = @message_path WHERE id = @id`);
    this.getStmt = this.db.prepare('SELECT * FROM calls WHERE id = ?');
    this.nextStmt = this.db.prepare('SELECT IFNULL(MAX(rowid), 0) + 1 AS n FROM calls');
  }

  /**
   * Logs a new call; returns its id (`c` and its row number, unique in this log across runs).
   * `caller` is the outside party (the number called, for an outbound call).
   */
  start(caller: string, startMs: number, direction: CallDirection = 'inbound'): string {
    // one writer, synchronous: nothing can take the number between the two statements
    const id = `c${this.nextStmt.get()?.n ?? 1}`;
    this.insertStmt.run(id, direction, caller, startMs);
    return id;
  }

  /** Changes fields of a logged call. */
  update(id: string, fields: Partial<Omit<CallRecord, 'id' | 'direction' | 'caller' | 'startMs'>>): void {
    const row = this.getStmt.get(id);
    if (!row) return;
    const merged = { ...fromRow(row), ...fields };
    this.updateStmt.run(toRow(merged));
  }

  /** One call, or undefined. */
  get(id: string): CallRecord | undefined {
    const row = this.getStmt.get(id);
    return row ? fromRow(row) : undefined;
  }

  /** The most recent calls first. */
  recent(limit = 50): CallRecord[] {
    return this.db.prepare<[number], Row>('SELECT * FROM calls ORDER BY start_ms DESC LIMIT ?').all(limit).map(fromRow);
  }

  /** Figures of the calls that started at or after `sinceMs` (default: local midnight today). */
  figures(sinceMs = midnight()): DayFigures {
    const r = this.db
      .prepare<[number], { calls: number | null; answered: number | null; abandoned: number | null; wait: number | null; mos: number | null; outbound: number | null }>(
        // answered counts the answer (answer_ms), not the outcome: a call in progress is in, once
        `SELECT SUM(direction = 'inbound') AS calls,
          SUM(direction = 'inbound' AND answer_ms IS NOT NULL) AS answered,
          SUM(direction = 'inbound' AND outcome = 'abandoned') AS abandoned,
          AVG(CASE WHEN direction = 'inbound' THEN wait_ms END) AS wait,
          AVG(CASE WHEN direction = 'inbound' AND outcome = 'answered' THEN mos END) AS mos,
          SUM(direction = 'outbound') AS outbound
        FROM calls WHERE start_ms >= ?`,
      )
      .get(sinceMs);
    return {
      calls: r?.calls ?? 0,
      answered: r?.answered ?? 0,
      abandoned: r?.abandoned ?? 0,
      averageWaitMs: Math.round(r?.wait ?? 0),
      averageMos: Math.round((r?.mos ?? 0) * 100) / 100,
      outbound: r?.outbound ?? 0,
    };
  }

  /** Closes the database. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Local midnight of today, epoch ms. */
function midnight(): number {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

function fromRow(r: Row): CallRecord {
  return {
    id: r.id,
    direction: r.direction,
    caller: r.caller,
    queue: r.queue,
    agent: r.agent,
    startMs: r.start_ms,
    answerMs: r.answer_ms,
    endMs: r.end_ms,
    waitMs: r.wait_ms,
    outcome: r.outcome,
    mos: r.mos,
    recordingPath: r.recording_path,
    messagePath: r.message_path,
  };
}

function toRow(c: CallRecord): Row {
  return {
    id: c.id,
    direction: c.direction,
    caller: c.caller,
    queue: c.queue,
    agent: c.agent,
    start_ms: c.startMs,
    answer_ms: c.answerMs,
    end_ms: c.endMs,
    wait_ms: c.waitMs,
    outcome: c.outcome,
    mos: c.mos,
    recording_path: c.recordingPath,
    message_path: c.messagePath,
  };
}
