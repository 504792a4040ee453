import { afterEach, describe, expect, it } from 'vitest';
import { makeAgentEnv, type AgentEnv } from '../helpers/agent-env.js';

let env: AgentEnv;
afterEach(() => env?.cleanup());

function fill(e: AgentEnv, n: number) {
  for (let i = 0; i < n; i++) e.services.audit.append({ actor: 'test', action: 'test.event', object: `o${i}`, decision: 'done', detail: { i } });
}

describe('the audit chain', () => {
  it('verifies end to end', () => {
    env = makeAgentEnv();
    fill(env, 50);
    expect(env.services.audit.verify()).toEqual({ ok: true, entries: 50 });
  });

  it('names the first entry edited in the database', () => {
    env = makeAgentEnv();
    fill(env, 20);
    env.services.db.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 7").run();
    expect(env.services.audit.verify()).toMatchObject({ ok: false, entries: 6, firstBroken: { seq: 7, reason: 'hash-mismatch' } });
  });

  it('detects an entry whose hash was recomputed after an edit (the next link breaks)', async () => {
    env = makeAgentEnv();
    fill(env, 10);
    const { entryHash } = await import('../../agent/audit/audit-log.js');
    const db = env.services.db;
    const row = env.services.audit.tail(10).find((e) => e.seq === 4)!;
    const forged = { ...row, decision: 'deny' };
    db.prepare('UPDATE audit SET decision = ?, hash = ? WHERE seq = 4').run('deny', entryHash(forged));
    expect(env.services.audit.verify().firstBroken).toEqual({ seq: 5, reason: 'link-mismatch' });
  });

  it('detects a deleted entry', () => {
    env = makeAgentEnv();
    fill(env, 10);
    env.services.db.prepare('DELETE FROM audit WHERE seq = 3').run();
    expect(env.services.audit.verify().firstBroken).toEqual({ seq: 3, reason: 'sequence-gap' });
  });
});
