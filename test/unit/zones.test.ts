import { expect } from 'chai';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { placeComplaint } from '../../src/complaints/complaint-store.js';
import { pointInPolygon, zoneAt } from '../../src/contracts/geometry.js';

describe('zones', () => {
  const square = { type: 'Polygon' as const, coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]] as Array<[number, number]>, [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]] as Array<[number, number]>] };
  const cases: Array<[string, { lat: number; lon: number }, boolean]> = [
    ['inside', { lat: 2, lon: 2 }, true],
    ['outside', { lat: 12, lon: 2 }, false],
    ['in the hole', { lat: 5, lon: 5 }, false],
    ['between hole and edge', { lat: 8, lon: 5 }, true],
  ];
  for (const [name, point, inside] of cases) it(`a point ${name} is ${inside ? 'in' : 'not in'} the polygon`, () => expect(pointInPolygon(point, square)).to.equal(inside));

  it('places demo complaints in their DMA, or flags them outside every zone', async () => {
    const site = await loadSiteConfig('config/demo-town.yaml');
    expect(zoneAt({ lat: -6.8915, lon: 107.6105 }, site.zones)?.id).to.equal('dma-1');
    expect(zoneAt({ lat: -6.905, lon: 107.63 }, site.zones)?.id).to.equal('dma-3');
    expect(placeComplaint({ lat: -7.5, lon: 110 }, site)).to.deep.equal({ lat: -7.5, lon: 110, zone: null, status: 'outside_zones' });
    expect(placeComplaint({ address: 'Jl. Merdeka 10' }, site).status).to.equal('unresolved');
  });
});
