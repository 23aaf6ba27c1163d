import { describe, expect, it } from 'vitest';
import { refusals } from '../../../bench/fence.js';

const at = (t: number, kind: 'ok' | 'refused' | 'error') => ({ t, kind });

describe('fence-cost: refused writes in a window', () => {
  it('times the refusal from the first refused write to the first write accepted after the last one', () => {
    const answers = [
      at(90, 'ok'), // before the window
      at(110, 'ok'),
      at(150, 'refused'),
      at(160, 'ok'), // accepted in between: the refusal is not over yet
      at(170, 'refused'),
      at(180, 'error'),
      at(400, 'ok'),
      at(410, 'ok'),
    ];
    expect(refusals(answers, 100, 1000)).toEqual({
      refused: 2,
      accepted: 4,
      errors: 1,
      firstRefusedMs: 50,
      refusingMs: 250,
      refusingAtEnd: false,
    });
  });

  it('reports a refusal still running at the end of the window up to the end', () => {
    const answers = [at(110, 'ok'), at(200, 'refused'), at(900, 'refused'), at(1100, 'ok')];
    expect(refusals(answers, 100, 1000)).toMatchObject({
      refused: 2,
      firstRefusedMs: 100,
      refusingMs: 800,
      refusingAtEnd: true,
    });
  });

  it('reports no refusal when every write was accepted', () => {
    expect(refusals([at(110, 'ok'), at(120, 'ok')], 100, 1000)).toMatchObject({
      refused: 0,
      accepted: 2,
      firstRefusedMs: null,
      refusingMs: null,
      refusingAtEnd: false,
    });
  });
});
