import { afterEach, describe, expect, it } from 'vitest';
import { topicFor, verifyEnvelope, type Envelope } from '../../agent/reporting/protocol.js';
import { makeAgentEnv, sampleJpeg, verifiedNotice, type AgentEnv } from '../helpers/agent-env.js';

let env: AgentEnv;
afterEach(() => env?.cleanup());

describe('the outbox', () => {
  it('holds signed envelopes in order, each verifiable with the agent key, with no personal data in bodies', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-north-gate']);
    await s.capture.ingest('cam-north-gate', await sampleJpeg());
    await s.capture.ingest('cam-east-lobby', await sampleJpeg());
    const pending = s.outbox.pending(100);
    expect(pending.map((e) => e.kind)).toEqual(['notice-changed', 'notice-changed', 'notice-changed', 'image-stored', 'capture-blocked']);
    expect(pending.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const e of pending) {
      expect(e).toMatchObject({ v: 1, agent: 'gw-test-01', kid: s.keys.keyId });
      expect(verifyEnvelope(e, s.keys.publicKey)).toBe(true);
    }
    // The verifier's name is personal data: it stays in the notice row, never in a report.
    expect(JSON.stringify(pending)).not.toContain('Inspector Test');
  });

  it('detects a changed body, a replayed seq and another key', async () => {
    env = makeAgentEnv();
    const s = env.services;
    const added = s.outbox.add('agent-status', { stored: 1 });
    const e = s.outbox.pending(10).find((x) => x.seq === added.seq)!;
    expect(verifyEnvelope(e, s.keys.publicKey)).toBe(true);
    expect(verifyEnvelope({ ...e, body: { stored: 2 } }, s.keys.publicKey)).toBe(false);
    expect(verifyEnvelope({ ...e, seq: e.seq + 1 } as Envelope, s.keys.publicKey)).toBe(false);
    const other = makeAgentEnv();
    try {
      expect(verifyEnvelope(e, other.services.keys.publicKey)).toBe(false);
    } finally {
      other.cleanup();
    }
  });

  it('signs when the publisher reads: the same signature each read, no signature kept in the row', () => {
    env = makeAgentEnv();
    const s = env.services;
    s.outbox.add('agent-status', { stored: 1 });
    const [first] = s.outbox.pending(1);
    const [again] = s.outbox.pending(1);
    expect(again).toEqual(first);
    // What is stored has no signature to lift: only the agent key can make one.
    const stored = s.db.prepare('SELECT envelope FROM outbox WHERE seq = ?').pluck().get(first!.seq) as string;
    expect(JSON.parse(stored)).not.toHaveProperty('sig');
  });

  it('marks envelopes sent so the publisher drains oldest first', () => {
    env = makeAgentEnv();
    const s = env.services;
    for (let i = 0; i < 5; i++) s.outbox.add('agent-status', { i });
    s.outbox.markSent(s.outbox.pending(2).map((e) => e.seq));
    expect(s.outbox.pending(10).map((e) => e.body['i'])).toEqual([2, 3, 4]);
    expect(s.outbox.countPending()).toBe(3);
  });

  it('builds the topic tree camwarden/v1/{region}/{site}/{agent}/{kind}', () => {
    expect(topicFor({ region: 'cn-gd', site: 'futian-plaza', agent: 'gw-1', kind: 'capture-blocked' })).toBe('camwarden/v1/cn-gd/futian-plaza/gw-1/capture-blocked');
  });
});
