import { expect } from 'chai';
import { parseStateMessage } from '../../src/engine/device-status.js';

const payload = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('link state messages', () => {
  const cases: Array<{ name: string; topic: string; payload: Buffer; expected: unknown }> = [
    {
      name: 'a device state',
      topic: 'tirta/v1/demo/plc-1/state',
      payload: payload({ state: 'offline', ts_ms: 1000, reason: 'timed out' }),
      expected: { site: 'demo', source: 'device', id: 'plc-1', message: { state: 'offline', ts_ms: 1000, reason: 'timed out' } },
    },
    {
      name: 'a connector state',
      topic: 'tirta/v1/demo/connectors/edge-7/state',
      payload: payload({ state: 'online', ts_ms: 5 }),
      expected: { site: 'demo', source: 'connector', id: 'edge-7', message: { state: 'online', ts_ms: 5 } },
    },
    { name: 'a telemetry topic', topic: 'tirta/v1/demo/plc-1/telemetry', payload: payload({ state: 'online', ts_ms: 5 }), expected: { error: 'not a state topic: tirta/v1/demo/plc-1/telemetry' } },
    { name: 'a payload that is not JSON', topic: 'tirta/v1/demo/plc-1/state', payload: Buffer.from('online'), expected: { error: 'payload is not JSON' } },
  ];
  for (const testCase of cases) it(`parses ${testCase.name}`, () => expect(parseStateMessage(testCase.topic, testCase.payload)).to.deep.equal(testCase.expected));

  it('names the bad field of an invalid state', () => {
    const result = parseStateMessage('tirta/v1/demo/plc-1/state', payload({ state: 'sleeping', ts_ms: 1 }));
    expect(result).to.have.property('error').that.contains('state');
  });
});
