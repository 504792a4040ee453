import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { canonicalJson } from '../canonical-json.js';
import { writeTransaction, type Db } from '../store/open-database.js';

/**
 * The append-only, hash-chained audit log (Shenzhen Art. 75: record the full process of data
 * handling so it is traceable). Each entry's hash covers its fields and the previous hash, so
 * anyone with the database can verify the chain offline.
 */
export interface AuditInput {
  actor: string;
  action: string;
  object?: string | null;
  decision?: 'permit' | 'deny' | 'done' | 'blocked' | 'rejected' | null;
  rule?: string | null;
  detail?: Record<string, unknown> | null;
}

export interface AuditEntry {
  seq: number;
  ts: string;
  actor: string;
  action: string;
  object: string | null;
  decision: string | null;
  rule: string | null;
  detail: string | null;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const body = canonicalJson({
    seq: e.seq,
    ts: e.ts,
    actor: e.actor,
    action: e.action,
    object: e.object,
    decision: e.decision,
    rule: e.rule,
    detail: e.detail,
    prev: e.prevHash,
  });
  return createHash('sha256').update(body).digest('hex');
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** The first entry whose hash or link does not hold. */
  firstBroken?: { seq: number; reason: 'hash-mismatch' | 'link-mismatch' | 'sequence-gap' };
}

export interface AuditLog {
  /** Appends inside the caller's transaction when there is one; the caller keeps it synchronous. */
  append(input: AuditInput): AuditEntry;
  verify(onProgress?: (done: number, total: number) => void): AuditVerification;
  tail(limit: number, afterSeq?: number): AuditEntry[];
  /** The oldest `limit` entries after `afterSeq`, for reading the whole log forward without gaps. */
  page(afterSeq: number, limit: number): AuditEntry[];
  count(): number;
}

interface Row {
  seq: number;
  ts: string;
  actor: string;
  action: string;
  object: string | null;
  decision: string | null;
  rule: string | null;
  detail: string | null;
  prev_hash: string;
  hash: string;
}

const toEntry = (r: Row): AuditEntry => ({
  seq: r.seq,
  ts: r.ts,
  actor: r.actor,
  action: r.action,
  object: r.object,
  decision: r.decision,
  rule: r.rule,
  detail: r.detail,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export function createAuditLog({ db, clock }: { db: Db; clock: Clock }): AuditLog {
  const last = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare(
    'INSERT INTO audit (seq, ts, actor, action, object, decision, rule, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const all = db.prepare<[], Row>('SELECT * FROM audit ORDER BY seq');
  const tailStmt = db.prepare<[number, number], Row>('SELECT * FROM audit WHERE seq > ? ORDER BY seq DESC LIMIT ?');
  const pageStmt = db.prepare<[number, number], Row>('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?');
  const countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM audit');

  // Reads the chain head and inserts in one write transaction, so two processes
  // (the agent and an operator's CLI) never fork the chain.
  const appendTx = writeTransaction(db, (input: AuditInput): AuditEntry => {
    const head = last.get();
    const entry: Omit<AuditEntry, 'hash'> = {
      seq: (head?.seq ?? 0) + 1,
      ts: clock.now().toISOString(),
      actor: input.actor,
      action: input.action,
      object: input.object ?? null,
      decision: input.decision ?? null,
      rule: input.rule ?? null,
      detail: input.detail ? canonicalJson(input.detail) : null,
      prevHash: head?.hash ?? GENESIS_HASH,
    };
    const hash = entryHash(entry);
    insert.run(entry.seq, entry.ts, entry.actor, entry.action, entry.object, entry.decision, entry.rule, entry.detail, entry.prevHash, hash);
    return { ...entry, hash };
  });

  return {
    append: appendTx,
    verify(onProgress) {
      const total = countStmt.get()?.n ?? 0;
      let prev = GENESIS_HASH;
      let expectedSeq = 1;
      let n = 0;
      for (const row of all.iterate()) {
        const e = toEntry(row);
        if (e.seq !== expectedSeq) return { ok: false, entries: n, firstBroken: { seq: expectedSeq, reason: 'sequence-gap' } };
        if (e.prevHash !== prev) return { ok: false, entries: n, firstBroken: { seq: e.seq, reason: 'link-mismatch' } };
        if (entryHash(e) !== e.hash) return { ok: false, entries: n, firstBroken: { seq: e.seq, reason: 'hash-mismatch' } };
        prev = e.hash;
        expectedSeq += 1;
        n += 1;
        if (onProgress && n % 1000 === 0) onProgress(n, total);
      }
      onProgress?.(n, total);
      return { ok: true, entries: n };
    },
    tail: (limit, afterSeq = 0) => tailStmt.all(afterSeq, limit).map(toEntry).reverse(),
    page: (afterSeq, limit) => pageStmt.all(afterSeq, limit).map(toEntry),
    count: () => countStmt.get()?.n ?? 0,
  };
}
