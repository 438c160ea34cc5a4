// modbus-serial is CommonJS whose typings declare an ES default export; at run time the default
// import is the client class itself. This is the one place that bridges the two.
import modbusSerial from 'modbus-serial';
import type { ModbusRTU as ModbusClientClass } from 'modbus-serial/ModbusRTU.js';

export type ModbusClient = ModbusClientClass;
export const ModbusClient = modbusSerial as unknown as typeof ModbusClientClass;
