import { describe, expect, it } from 'vitest';
import type { CoreStatus, PeerStatus } from '../../../src/raft/core.js';
import { handoverTarget } from '../../../src/raft/handover.js';
import { initialMembership } from '../../../src/raft/membership.js';
import type { Member } from '../../../src/raft/types.js';

const members: Member[] = [
  { id: 1, role: 'voter', addr: 'a:1' },
  { id: 2, role: 'voter', addr: 'a:2' },
  { id: 3, role: 'voter', addr: 'a:3' },
  { id: 4, role: 'learner', addr: 'a:4' },
  { id: 5, role: 'witness', addr: 'a:5' },
];

function status(role: CoreStatus['role'], progress: Partial<PeerStatus>[]): CoreStatus {
  return {
    role,
    progress: progress.map((p) => ({ next: 1, state: 'replicate', ticksSinceAck: 0, match: 0, ...p })),
    membership: initialMembership(members),
  } as CoreStatus;
}

describe('handoverTarget', () => {
  it('picks the voting member with the most log, then the lowest id', () => {
    const st = status('leader', [
      { id: 2, match: 10 },
      { id: 3, match: 12 },
      { id: 4, match: 99 },
    ]);
    expect(handoverTarget(st)).toBe(3);
    expect(
      handoverTarget(
        status('leader', [
          { id: 3, match: 12 },
          { id: 2, match: 12 },
        ]),
      ),
    ).toBe(2);
  });

  it('passes over learners and members not heard from this term; a witness may take over', () => {
    expect(
      handoverTarget(
        status('leader', [
          { id: 2, match: 50, ticksSinceAck: null },
          { id: 4, match: 60 },
          { id: 5, match: 5 },
        ]),
      ),
    ).toBe(5);
    expect(handoverTarget(status('leader', [{ id: 4, match: 60 }]))).toBeNull();
  });

  it('a follower hands nothing over', () => {
    expect(handoverTarget(status('follower', [{ id: 2, match: 10 }]))).toBeNull();
  });
});
