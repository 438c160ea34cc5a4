// The site configuration: one file describes a utility's network (zones, critical customers),
// its PLCs and their tags. The simulator serves it, the connectors poll it, the service stores
// and reasons over it. This schema is the single source of truth for its shape and meaning.
import { z } from 'zod';
import { connectorSettingsSchema } from './connector-settings.js';
import { correlationSettingsSchema } from './correlation-settings.js';
import { customerDirectoryIssues, customerDirectorySchema } from './customers.js';
import { detectionSettingsSchema } from './detection-settings.js';
import { dispatchIssues, dispatchSettingsSchema } from './dispatch.js';
import { identifier, latLonSchema } from './primitives.js';

export { latLonSchema, type LatLon } from './primitives.js';

/** A GeoJSON position is [longitude, latitude]. */
const position = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]);

const linearRing = z
  .array(position)
  .min(4, 'a linear ring needs at least 4 positions')
  .refine((ring) => {
    const first = ring[0];
    const last = ring[ring.length - 1];
    return first !== undefined && last !== undefined && first[0] === last[0] && first[1] === last[1];
  }, 'a linear ring must end where it starts');

export const polygonSchema = z.strictObject({
  type: z.literal('Polygon'),
  coordinates: z.array(linearRing).min(1),
});
export type Polygon = z.infer<typeof polygonSchema>;

export const criticalCustomerSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['hospital', 'clinic', 'school', 'fire_station', 'care_home', 'government', 'industry', 'other']),
  location: latLonSchema,
});
export type CriticalCustomer = z.infer<typeof criticalCustomerSchema>;

export const zoneSchema = z.strictObject({
  id: identifier,
  name: z.string().min(1),
  customers: z.number().int().nonnegative(),
  boundary: polygonSchema,
  critical_customers: z.array(criticalCustomerSchema).default([]),
  /** Flow tags metering the water entering the zone (a DMA's inlets): minimum night flow is watched on these. */
  inlet_tags: z.array(identifier).default([]),
});
export type Zone = z.infer<typeof zoneSchema>;

export const pollGroupSchema = z.strictObject({
  id: identifier,
  interval_ms: z.number().int().min(50).max(86_400_000),
});
export type PollGroup = z.infer<typeof pollGroupSchema>;

const modbusEndpoint = z
  .string()
  .regex(/^(tcp|rtu-over-tcp):\/\/[^:/]+:\d{1,5}$|^rtu:\/\/\/.+$/, 'must be tcp://HOST:PORT, rtu-over-tcp://HOST:PORT or rtu:///dev/PATH');

export const modbusDeviceSchema = z.strictObject({
  id: identifier,
  protocol: z.literal('modbus'),
  endpoint: modbusEndpoint,
  unit_id: z.number().int().min(0).max(255).default(1),
  /** Register numbers in the tags count from 0 (protocol addresses) or from 1 (as many PLC manuals print them). */
  addressing: z.union([z.literal(0), z.literal(1)]).default(0),
  timeout_ms: z.number().int().min(10).max(60_000).default(1000),
  max_registers_per_read: z.number().int().min(1).max(125).default(125),
  max_bits_per_read: z.number().int().min(1).max(2000).default(2000),
  /** Unrequested registers a merged read may span to save a request. */
  max_gap_registers: z.number().int().min(0).max(124).default(10),
  /** Function codes for commands: single (5 for a coil, 6 for one register) or multiple (15, 16), for devices that only take the latter. */
  write_function: z.enum(['single', 'multiple']).default('single'),
  /**
   * Settings of the physical link (the TCP connection or serial bus). Devices that share an
   * endpoint share one link, one connection and one request queue, so they must agree on these.
   */
  link: z
    .strictObject({
      /** Requests in flight at once on the link; RTU buses and most gateways need 1. */
      max_requests_in_flight: z.number().int().min(1).max(16).default(1),
      /** Quiet time after each response before the next request, for slow gateways and RS-485 turnaround. */
      pause_between_requests_ms: z.number().int().min(0).max(10_000).default(0),
      serial: z
        .strictObject({
          baud_rate: z.number().int().min(300).max(921_600).default(19_200),
          data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
          stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
          parity: z.enum(['none', 'even', 'odd']).default('even'),
        })
        .optional(),
    })
    .prefault({}),
  /** A unit that fails is skipped for the rest of the cycle, then retried after a growing delay. */
  backoff: z
    .strictObject({
      initial_ms: z.number().int().min(10).max(600_000).default(1000),
      max_ms: z.number().int().min(10).max(3_600_000).default(60_000),
    })
    .prefault({}),
  poll_groups: z.array(pollGroupSchema).min(1),
});
export type ModbusDevice = z.infer<typeof modbusDeviceSchema>;

export const opcuaDeviceSchema = z
  .strictObject({
    id: identifier,
    protocol: z.literal('opcua'),
    endpoint: z.string().regex(/^opc\.tcp:\/\/[^/]+(\/.*)?$/, 'must be opc.tcp://HOST:PORT[/PATH]'),
    /** subscription: the server samples and reports changes (deadband applied there); polling: the connector reads each poll group on its interval. */
    mode: z.enum(['subscription', 'polling']).default('subscription'),
    security_mode: z.enum(['None', 'SignAndEncrypt']).default('None'),
    /** Must match security_mode: None with None, Basic256Sha256 with SignAndEncrypt. */
    security_policy: z.enum(['None', 'Basic256Sha256']).default('None'),
    /** Username login; the password is read from the environment variable named, never from this file. Anonymous when absent. */
    user: z
      .strictObject({
        username: z.string().min(1),
        password_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable'),
      })
      .optional(),
    timeout_ms: z.number().int().min(10).max(60_000).default(5000),
    /** How often the server samples each tag, in subscription mode; when absent, the interval of the tag's poll group. */
    sampling_interval_ms: z.number().int().min(0).max(86_400_000).optional(),
    /** How often the server sends the changes it has collected, in subscription mode. */
    publishing_interval_ms: z.number().int().min(10).max(3_600_000).default(1000),
    /** Monitored items created per CreateMonitoredItems call (lowered further to the server's own limit). */
    monitored_items_per_call: z.number().int().min(1).max(100_000).default(500),
    /** Delay before reconnecting after a lost or refused connection: doubles per failure from initial_ms up to max_ms, with jitter. */
    reconnect: z
      .strictObject({
        initial_ms: z.number().int().min(10).max(600_000).default(1000),
        max_ms: z.number().int().min(10).max(3_600_000).default(60_000),
      })
      .prefault({}),
    poll_groups: z.array(pollGroupSchema).min(1),
  })
  .superRefine((device, ctx) => {
    const policyFor = { None: 'None', SignAndEncrypt: 'Basic256Sha256' } as const;
    if (device.security_policy !== policyFor[device.security_mode]) {
      ctx.addIssue({
        code: 'custom',
        path: ['security_policy'],
        message: `security_mode ${device.security_mode} needs security_policy ${policyFor[device.security_mode]} (got ${device.security_policy})`,
      });
    }
    if (device.reconnect.max_ms < device.reconnect.initial_ms) {
      ctx.addIssue({ code: 'custom', path: ['reconnect', 'max_ms'], message: 'reconnect.max_ms must be at least reconnect.initial_ms' });
    }
  });
export type OpcuaDevice = z.infer<typeof opcuaDeviceSchema>;

export const deviceSchema = z.discriminatedUnion('protocol', [modbusDeviceSchema, opcuaDeviceSchema]);
export type Device = z.infer<typeof deviceSchema>;

export const tagKinds = ['pressure', 'flow', 'level', 'pump_status', 'valve_position', 'totalizer', 'setpoint', 'chlorine', 'other'] as const;
export type TagKind = (typeof tagKinds)[number];

export const modbusTables = ['coil', 'discrete_input', 'holding_register', 'input_register'] as const;
export type ModbusTable = (typeof modbusTables)[number];

export const modbusValueTypes = ['bool', 'bit', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'string'] as const;
export type ModbusValueType = (typeof modbusValueTypes)[number];

/** Byte order of a multi-register value, written as the order of bytes A (most significant) to D. */
export const byteOrders = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type ByteOrder = (typeof byteOrders)[number];

export const modbusAddressSchema = z
  .strictObject({
    table: z.enum(modbusTables),
    address: z.number().int().min(0).max(65_536),
    type: z.enum(modbusValueTypes),
    /** Bit inside a 16-bit register, for type `bit`. */
    bit: z.number().int().min(0).max(15).optional(),
    /** Length in registers, for type `string`. */
    length: z.number().int().min(1).max(125).optional(),
    byte_order: z.enum(byteOrders).default('ABCD'),
    scale: z.number().finite().default(1),
    offset: z.number().finite().default(0),
  })
  .superRefine((tag, ctx) => {
    const bitTable = tag.table === 'coil' || tag.table === 'discrete_input';
    if (bitTable && tag.type !== 'bool') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: `a ${tag.table} holds one bit: type must be bool` });
    }
    if (!bitTable && tag.type === 'bool') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: 'type bool is for coils and discrete inputs; use bit with `bit` for a bit inside a register' });
    }
    if (tag.type === 'bit' && tag.bit === undefined) {
      ctx.addIssue({ code: 'custom', path: ['bit'], message: 'type bit needs `bit` (0-15)' });
    }
    if (tag.type === 'string' && tag.length === undefined) {
      ctx.addIssue({ code: 'custom', path: ['length'], message: 'type string needs `length` in registers' });
    }
  });
export type ModbusAddress = z.infer<typeof modbusAddressSchema>;

export const opcuaAddressSchema = z.strictObject({
  node_id: z.string().regex(/^(ns=\d+;|nsu=[^;]+;)?[isgb]=.+$/, 'must be an OPC UA node id such as ns=2;s=Station1.Pressure'),
});
export type OpcuaAddress = z.infer<typeof opcuaAddressSchema>;

export const deadbandSchema = z.union([
  z.strictObject({ absolute: z.number().nonnegative() }),
  z.strictObject({ percent: z.number().min(0).max(100) }),
]);
export type Deadband = z.infer<typeof deadbandSchema>;

/** What a tag measures in the simulated plant's hydraulic model (ignored by connectors and service). */
export const modelBindingSchema = z.strictObject({
  element: z.string().min(1).max(64),
  quantity: z.enum(['pressure', 'head', 'demand', 'flow', 'velocity', 'level', 'status', 'setting']),
});
export type ModelBinding = z.infer<typeof modelBindingSchema>;

/**
 * Alarm limits on a tag's value. An alarm raises once the value has been beyond a limit for
 * on_delay_s and clears once it has been back inside the limit by more than the deadband for off_delay_s.
 */
export const alarmLimitsSchema = z
  .strictObject({
    lolo: z.number().finite().optional(),
    lo: z.number().finite().optional(),
    hi: z.number().finite().optional(),
    hihi: z.number().finite().optional(),
    deadband: z.number().nonnegative().default(0),
    on_delay_s: z.number().nonnegative().max(86_400).default(0),
    off_delay_s: z.number().nonnegative().max(86_400).default(0),
  })
  .superRefine((limits, ctx) => {
    const order = (['lolo', 'lo', 'hi', 'hihi'] as const).filter((name) => limits[name] !== undefined);
    for (let index = 1; index < order.length; index += 1) {
      const lower = order[index - 1]!;
      const upper = order[index]!;
      if (limits[lower]! >= limits[upper]!) ctx.addIssue({ code: 'custom', path: [upper], message: `${upper} must be greater than ${lower}` });
    }
    if (order.length === 0) ctx.addIssue({ code: 'custom', message: 'give at least one of lolo, lo, hi, hihi' });
  });
export type AlarmLimits = z.infer<typeof alarmLimitsSchema>;

export const tagSchema = z.strictObject({
  id: identifier,
  name: z.string().min(1).optional(),
  /** The device that serves the tag; absent for a tag Tirta only receives (an offline replay, a computed value). */
  device: identifier.optional(),
  /** Required with `device`. */
  poll_group: identifier.optional(),
  kind: z.enum(tagKinds),
  unit: z.string().min(1).max(16),
  zone: identifier.optional(),
  location: latLonSchema.optional(),
  /** Engineering range; values outside it are physically implausible for the instrument. */
  range: z.strictObject({ min: z.number(), max: z.number() }).optional(),
  deadband: deadbandSchema.optional(),
  alarms: alarmLimitsSchema.optional(),
  modbus: modbusAddressSchema.optional(),
  opcua: opcuaAddressSchema.optional(),
  model: modelBindingSchema.optional(),
});
export type Tag = z.infer<typeof tagSchema>;

export const siteSchema = z.strictObject({
  id: identifier,
  name: z.string().min(1),
  timezone: z.string().min(1).default('UTC'),
});

export const siteConfigSchema = z
  .strictObject({
    site: siteSchema,
    connector: connectorSettingsSchema.prefault({}),
    zones: z.array(zoneSchema).min(1),
    devices: z.array(deviceSchema).default([]),
    tags: z.array(tagSchema).default([]),
    detection: detectionSettingsSchema.prefault({}),
    correlation: correlationSettingsSchema.prefault({}),
    customers: customerDirectorySchema.prefault({}),
    dispatch: dispatchSettingsSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    reportDuplicates(config.zones, 'zones', ctx);
    reportDuplicates(config.devices, 'devices', ctx);
    reportDuplicates(config.tags, 'tags', ctx);
    const zoneIds = new Set(config.zones.map((zone) => zone.id));
    for (const issue of customerDirectoryIssues(config.customers, zoneIds)) {
      ctx.addIssue({ code: 'custom', path: ['customers', ...issue.path], message: issue.message });
    }
    for (const issue of dispatchIssues(config.dispatch, zoneIds)) {
      ctx.addIssue({ code: 'custom', path: ['dispatch', ...issue.path], message: issue.message });
    }
    const devicesById = new Map(config.devices.map((device) => [device.id, device]));
    config.devices.forEach((device, index) => reportDuplicates(device.poll_groups, `devices.${index}.poll_groups`, ctx));
    // Devices behind one endpoint share the link: one connection, one queue, one set of link settings.
    const linkOwners = new Map<string, { index: number; link: string; unit: number }>();
    config.devices.forEach((device, index) => {
      if (device.protocol !== 'modbus') return;
      const link = JSON.stringify(device.link);
      const owner = linkOwners.get(device.endpoint);
      if (owner === undefined) {
        linkOwners.set(device.endpoint, { index, link, unit: device.unit_id });
        return;
      }
      if (owner.link !== link) {
        ctx.addIssue({ code: 'custom', path: ['devices', index, 'link'], message: `shares ${device.endpoint} with devices[${owner.index}] but its link settings differ` });
      }
    });
    const unitsByEndpoint = new Map<string, Map<number, number>>();
    config.devices.forEach((device, index) => {
      if (device.protocol !== 'modbus') return;
      const units = unitsByEndpoint.get(device.endpoint) ?? new Map<number, number>();
      unitsByEndpoint.set(device.endpoint, units);
      const first = units.get(device.unit_id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['devices', index, 'unit_id'], message: `unit ${device.unit_id} at ${device.endpoint} is already devices[${first}]` });
      else units.set(device.unit_id, index);
    });
    config.tags.forEach((tag, index) => {
      const at = (field: string) => ['tags', index, field];
      if (tag.zone !== undefined && !zoneIds.has(tag.zone)) {
        ctx.addIssue({ code: 'custom', path: at('zone'), message: `unknown zone "${tag.zone}"` });
      }
      if (tag.range !== undefined && tag.range.min >= tag.range.max) {
        ctx.addIssue({ code: 'custom', path: [...at('range'), 'max'], message: 'range.max must be greater than range.min' });
      }
      if (tag.device === undefined) {
        if (tag.poll_group !== undefined) ctx.addIssue({ code: 'custom', path: at('poll_group'), message: 'a poll group needs a device' });
        if (tag.modbus !== undefined || tag.opcua !== undefined) ctx.addIssue({ code: 'custom', path: at('device'), message: 'a tag with a Modbus or OPC UA address needs its device' });
        return;
      }
      const device = devicesById.get(tag.device);
      if (device === undefined) {
        ctx.addIssue({ code: 'custom', path: at('device'), message: `unknown device "${tag.device}"` });
        return;
      }
      if (tag.poll_group === undefined) {
        ctx.addIssue({ code: 'custom', path: at('poll_group'), message: `a tag of device "${device.id}" needs a poll_group` });
      } else if (!device.poll_groups.some((group) => group.id === tag.poll_group)) {
        ctx.addIssue({ code: 'custom', path: at('poll_group'), message: `device "${device.id}" has no poll group "${tag.poll_group}"` });
      }
      if (device.protocol === 'modbus') {
        if (tag.modbus === undefined) {
          ctx.addIssue({ code: 'custom', path: at('modbus'), message: `device "${device.id}" speaks Modbus: the tag needs a modbus address` });
        } else {
          const lowest = device.addressing;
          const end = tag.modbus.address + registerCount(tag.modbus) - 1;
          if (tag.modbus.address < lowest || end > 65_535 + lowest) {
            ctx.addIssue({
              code: 'custom',
              path: [...at('modbus'), 'address'],
              message: `address ${tag.modbus.address} is outside ${lowest}-${65_535 + lowest} for a device with ${lowest}-based addressing`,
            });
          }
        }
        if (tag.opcua !== undefined) {
          ctx.addIssue({ code: 'custom', path: at('opcua'), message: `device "${device.id}" speaks Modbus: remove the opcua address` });
        }
      } else {
        if (tag.opcua === undefined) {
          ctx.addIssue({ code: 'custom', path: at('opcua'), message: `device "${device.id}" speaks OPC UA: the tag needs an opcua node_id` });
        }
        if (tag.modbus !== undefined) {
          ctx.addIssue({ code: 'custom', path: at('modbus'), message: `device "${device.id}" speaks OPC UA: remove the modbus address` });
        }
      }
    });
    const tagsById = new Map(config.tags.map((tag) => [tag.id, tag]));
    config.zones.forEach((zone, zoneIndex) => {
      zone.inlet_tags.forEach((tagId, index) => {
        const tag = tagsById.get(tagId);
        if (tag === undefined) ctx.addIssue({ code: 'custom', path: ['zones', zoneIndex, 'inlet_tags', index], message: `unknown tag "${tagId}"` });
        else if (tag.kind !== 'flow') ctx.addIssue({ code: 'custom', path: ['zones', zoneIndex, 'inlet_tags', index], message: `tag "${tagId}" is a ${tag.kind} tag; inlets are flow tags` });
      });
    });
  });
export type SiteConfig = z.infer<typeof siteConfigSchema>;

/** Registers (or bits) one value occupies. */
export function registerCount(address: Pick<ModbusAddress, 'type' | 'length'>): number {
  switch (address.type) {
    case 'bool':
    case 'bit':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'int64':
    case 'uint64':
    case 'float64':
      return 4;
    case 'string':
      return address.length ?? 1;
  }
}

function reportDuplicates(items: ReadonlyArray<{ id: string }>, path: string, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const first = seen.get(item.id);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [...path.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part)), index, 'id'], message: `duplicate id "${item.id}" (first at index ${first})` });
    } else {
      seen.set(item.id, index);
    }
  });
}
