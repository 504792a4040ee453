import type { Clock, Ids } from '../clock.js';
import type { AgentKeys } from '../keys/agent-keys.js';
import { writeTransaction, type Db } from '../store/open-database.js';
import { PROTOCOL_VERSION, signEnvelope, type Envelope, type ReportKind } from './protocol.js';

/**
 * The outbox: envelopes written in the same transaction as the state they describe, drained in
 * order by the publisher. The registry being away never stops the agent.
 *
 * Envelopes are signed when they are read for publishing, not when they are written: the
 * signature covers the seq, which only the write transaction knows, and signing there would put
 * an Ed25519 signature inside every capture transaction. Ed25519 is deterministic, so an
 * envelope read twice carries the same signature.
 */
export type UnsignedEnvelope = Omit<Envelope, 'sig'>;

export interface Outbox {
  /** Call inside the transaction that changes the state the event reports. */
  add(kind: ReportKind, body: Record<string, unknown>): UnsignedEnvelope;
  /** The oldest unsent envelopes, signed with the agent key. */
  pending(limit: number): Envelope[];
  markSent(seqs: number[]): void;
  countPending(): number;
}

export function createOutbox({ db, keys, agentId, clock, ids }: { db: Db; keys: AgentKeys; agentId: string; clock: Clock; ids: Ids }): Outbox {
  const nextSeq = db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM outbox');
  const insert = db.prepare('INSERT INTO outbox (seq, id, kind, ts, envelope) VALUES (?, ?, ?, ?, ?)');
  const pendingStmt = db.prepare<[number], { envelope: string }>('SELECT envelope FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?');
  const mark = db.prepare('UPDATE outbox SET sent_at = ? WHERE seq = ?');
  const countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL');

  const addTx = writeTransaction(db, (kind: ReportKind, body: Record<string, unknown>): UnsignedEnvelope => {
    const seq = (nextSeq.get()?.seq ?? 0) + 1;
    const envelope: UnsignedEnvelope = { v: PROTOCOL_VERSION, id: ids.next(), agent: agentId, seq, ts: clock.now().toISOString(), kind, body, kid: keys.keyId };
    insert.run(seq, envelope.id, kind, envelope.ts, JSON.stringify(envelope));
    return envelope;
  });

  return {
    add: addTx,
    pending: (limit) =>
      pendingStmt.all(limit).map((r) => {
        const { sig: _stored, ...unsigned } = JSON.parse(r.envelope) as Envelope;
        return signEnvelope({ ...unsigned, kid: keys.keyId }, keys.signingKey);
      }),
    markSent: db.transaction((seqs: number[]) => {
      const now = clock.now().toISOString();
      for (const s of seqs) mark.run(now, s);
    }),
    countPending: () => countStmt.get()?.n ?? 0,
  };
}
