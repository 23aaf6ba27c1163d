/** What the leader knows about one follower's log, and how it paces replication to it. */

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is out and we wait for its answer (or the next heartbeat). */
  probeSent = false;
  /** In replicate state: appends in flight (their last index, and the probe sequence they were sent under), oldest first. */
  inflight: { last: number; seq: number }[] = [];
  /** In snapshot state: the snapshot being sent and the next byte offset to send. */
  snapshotIndex = 0;
  snapshotOffset = 0;
  /** Tick of the last snapshot chunk sent, and whether it was answered since. */
  snapshotSentTick = 0;
  snapshotAnswered = true;
  /** Highest probe sequence the follower acknowledged (ReadIndex, lease). */
  ackSeq = 0;
  /** Leader tick at which the acknowledged sequence was issued (lease); -Infinity when never. */
  ackTick = Number.NEGATIVE_INFINITY;

  constructor(next: number) {
    this.next = next;
  }

  becomeProbe(): void {
    // After a snapshot the follower is at least at the snapshot's index.
    if (this.state === 'snapshot') this.next = Math.max(this.match + 1, this.snapshotIndex + 1);
    else this.next = this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight = [];
  }

  becomeSnapshot(snapshotIndex: number, tick: number): void {
    this.state = 'snapshot';
    this.snapshotIndex = snapshotIndex;
    this.snapshotOffset = 0;
    this.snapshotSentTick = tick;
    this.snapshotAnswered = true;
    this.probeSent = false;
    this.inflight = [];
  }

  /** Record an acknowledged match index. Returns true if it moved forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflight.length > 0 && this.inflight[0]!.last <= index) this.inflight.shift();
    return updated;
  }

  /**
   * An acknowledgement of probe sequence `ackSeq` arrived while the oldest append in flight,
   * sent under an earlier sequence, is still unanswered: that append was lost (or badly
   * reordered), so nothing would ever retransmit it. Returns true when so.
   */
  appendLost(ackSeq: number): boolean {
    const oldest = this.inflight[0];
    return (
      this.state === 'replicate' && oldest !== undefined && ackSeq > oldest.seq && this.match < oldest.last
    );
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; `hint` is the follower's suggestion
   * of the highest index that may match. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether an append may be sent now. */
  isPaused(maxInflight: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= maxInflight;
      case 'snapshot':
        return true;
    }
  }
}
