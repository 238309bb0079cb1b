/**
 * The call log: one row per inbound call in SQLite (better-sqlite3, synchronous and in-process,
 * so a row is written the moment its event happens and nothing is lost at Ctrl-C), and the day's
 * figures the supervisor sees, computed by SQL over the same rows.
 * @module
 */
import Database from 'better-sqlite3';

/** How an inbound call ended. */
export type CallOutcome = 'answered' | 'abandoned' | 'message' | 'failed';

/** One call as logged; times are epoch milliseconds. */
export interface CallRecord {
  /** The call center's id of the call. */
  id: string;
  /** Who called (the From header's user, or the whole header when it has none). */
  caller: string;
  /** Skill queue chosen in the menu, or null when the caller never chose. */
  queue: string | null;
  /** Agent who answered, or null. */
  agent: string | null;
  /** When the call reached the call center. */
  startMs: number;
  /** When an agent answered, or null. */
  answerMs: number | null;
  /** When the call ended, or null while it runs. */
  endMs: number | null;
  /** Time in the queue (from entering it to an agent's answer, or to the end), or null. */
  waitMs: number | null;
  /** How it ended, or null while it runs. */
  outcome: CallOutcome | null;
  /** Final MOS of the caller's leg (ITU-T G.107 estimate from the engine), or null. */
  mos: number | null;
  /** The two-channel recording (left caller, right what the caller heard), or null. */
  recordingPath: string | null;
  /** The message the caller left, or null. */
  messagePath: string | null;
}

/** The day's figures of the floor. */
export interface DayFigures {
  /** Calls that reached the call center today. */
  calls: number;
  /** Of those, answered by an agent. */
  answered: number;
  /** Of those, ended by the caller before an agent answered (messages left not counted). */
  abandoned: number;
  /** Average time in the queue of today's calls that queued, ms (0 when none). */
  averageWaitMs: number;
  /** Average final MOS of today's answered calls (0 when none). */
  averageMos: number;
}

interface Row {
  id: string;
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
  private readonly insertStmt: Database.Statement<[string, string, number]>;
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
    this.insertStmt = this.db.prepare('INSERT INTO calls (id, caller, start_ms) VALUES (?, ?, ?)');
    this.updateStmt = this.db.prepare(`UPDATE calls SET queue = @queue, agent = @agent, answer_ms = @answer_ms, end_ms = @end_ms,
      wait_ms = @wait_ms, outcome = @outcome, mos = @mos, recording_path = @recording_path, message_path = @message_path WHERE id = @id`);
    this.getStmt = this.db.prepare('SELECT * FROM calls WHERE id = ?');
    this.nextStmt = this.db.prepare('SELECT IFNULL(MAX(rowid), 0) + 1 AS n FROM calls');
  }

  /** Logs a new call; returns its id (`c` and its row number, unique in this log across runs). */
  start(caller: string, startMs: number): string {
    // one writer, synchronous: nothing can take the number between the two statements
    const id = `c${this.nextStmt.get()?.n ?? 1}`;
    this.insertStmt.run(id, caller, startMs);
    return id;
  }

  /** Changes fields of a logged call. */
  update(id: string, fields: Partial<Omit<CallRecord, 'id' | 'caller' | 'startMs'>>): void {
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
      .prepare<[number], { calls: number; answered: number | null; abandoned: number | null; wait: number | null; mos: number | null }>(
        `SELECT COUNT(*) AS calls,
          SUM(outcome = 'answered') AS answered,
          SUM(outcome = 'abandoned') AS abandoned,
          AVG(wait_ms) AS wait,
          AVG(CASE WHEN outcome = 'answered' THEN mos END) AS mos
        FROM calls WHERE start_ms >= ?`,
      )
      .get(sinceMs);
    return {
      calls: r?.calls ?? 0,
      answered: r?.answered ?? 0,
      abandoned: r?.abandoned ?? 0,
      averageWaitMs: Math.round(r?.wait ?? 0),
      averageMos: Math.round((r?.mos ?? 0) * 100) / 100,
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
