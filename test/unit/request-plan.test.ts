import { expect } from 'chai';
import { planAfterException, planRequests, type PlanLimits } from '../../connectors/modbus/request-plan.js';
import { tagSchema, type Tag } from '../../src/contracts/site.js';

const tag = (id: string, table: string, address: number, type = 'uint16'): Tag =>
  tagSchema.parse({ id, device: 'plc', poll_group: 'fast', kind: 'pressure', unit: 'm', modbus: { table, address, type } });
const limits: PlanLimits = { maxRegisters: 125, maxBits: 2000, maxGapRegisters: 10, addressing: 0 };
const shape = (tags: Tag[], overrides: Partial<PlanLimits> = {}) =>
  planRequests(tags, { ...limits, ...overrides }).map((request) => `${request.table}:${request.start}+${request.count}`);

describe('Modbus request planner', () => {
  const cases: Array<{ name: string; tags: Tag[]; limits?: Partial<PlanLimits>; expected: string[] }> = [
    { name: 'adjacent registers merge', tags: [tag('a', 'holding_register', 0), tag('b', 'holding_register', 1)], expected: ['holding_register:0+2'] },
    { name: 'a float spans two registers', tags: [tag('a', 'holding_register', 0, 'float32'), tag('b', 'holding_register', 2)], expected: ['holding_register:0+3'] },
    { name: 'small gaps are read through', tags: [tag('a', 'input_register', 0), tag('b', 'input_register', 11)], expected: ['input_register:0+12'] },
    { name: 'large gaps split', tags: [tag('a', 'input_register', 0), tag('b', 'input_register', 12)], expected: ['input_register:0+1', 'input_register:12+1'] },
    { name: 'gap filling can be disabled', tags: [tag('a', 'input_register', 0), tag('b', 'input_register', 2)], limits: { maxGapRegisters: 0 }, expected: ['input_register:0+1', 'input_register:2+1'] },
    { name: 'tables never merge', tags: [tag('a', 'holding_register', 0), tag('b', 'input_register', 1)], expected: ['holding_register:0+1', 'input_register:1+1'] },
    { name: 'the register limit splits reads', tags: [tag('a', 'holding_register', 0), tag('b', 'holding_register', 124, 'float32')], expected: ['holding_register:0+1', 'holding_register:124+2'] },
    { name: 'a lower device limit applies', tags: [0, 1, 2, 3].map((n) => tag(`t${n}`, 'holding_register', n)), limits: { maxRegisters: 2 }, expected: ['holding_register:0+2', 'holding_register:2+2'] },
    { name: 'unsorted input is sorted', tags: [tag('b', 'holding_register', 5), tag('a', 'holding_register', 0)], expected: ['holding_register:0+6'] },
    { name: 'coils merge within the bit limit', tags: [tag('a', 'coil', 0, 'bool'), tag('b', 'coil', 100, 'bool')], expected: ['coil:0+101'] },
    { name: '1-based addressing maps to protocol addresses', tags: [tag('a', 'holding_register', 1), tag('b', 'holding_register', 2)], limits: { addressing: 1 }, expected: ['holding_register:0+2'] },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => expect(shape(testCase.tags, testCase.limits)).to.deep.equal(testCase.expected));
  }

  it('records where each tag sits inside its read', () => {
    const [request] = planRequests([tag('a', 'holding_register', 10, 'float32'), tag('b', 'holding_register', 14)], limits);
    expect(request!.tags.map((planned) => [planned.tag.id, planned.offset, planned.count])).to.deep.equal([['a', 0, 2], ['b', 4, 1]]);
  });

  describe('after exception 02/03', () => {
    const refused = (tags: Tag[]) => planRequests(tags, limits)[0]!;
    const cases: Array<{ name: string; tags: Tag[]; replacement: string[]; avoid: string[] }> = [
      {
        name: 'a read with gaps gives up its gaps',
        tags: [tag('a', 'holding_register', 0), tag('b', 'holding_register', 5), tag('c', 'holding_register', 6)],
        replacement: ['holding_register:0+1', 'holding_register:5+2'],
        avoid: ['holding_register:1-5'],
      },
      {
        name: 'a read without gaps splits in halves',
        tags: [0, 1, 2, 3].map((n) => tag(`t${n}`, 'input_register', n)),
        replacement: ['input_register:0+2', 'input_register:2+2'],
        avoid: ['input_register:2-2'],
      },
      { name: 'a read of one tag marks that tag invalid', tags: [tag('a', 'holding_register', 9)], replacement: [], avoid: [] },
    ];
    for (const testCase of cases) {
      it(testCase.name, () => {
        const { replacement, avoid } = planAfterException(refused(testCase.tags), limits);
        expect(replacement.map((request) => `${request.table}:${request.start}+${request.count}`)).to.deep.equal(testCase.replacement);
        expect(avoid.map((range) => `${range.table}:${range.start}-${range.end}`)).to.deep.equal(testCase.avoid);
      });
    }

    it('never merges across an avoided range again', () => {
      const tags = [tag('a', 'holding_register', 0), tag('b', 'holding_register', 5)];
      expect(shape(tags, { avoid: [{ table: 'holding_register', start: 1, end: 5 }] })).to.deep.equal(['holding_register:0+1', 'holding_register:5+1']);
      expect(shape(tags, { avoid: [{ table: 'input_register', start: 1, end: 5 }] })).to.deep.equal(['holding_register:0+6']);
    });
  });
});
