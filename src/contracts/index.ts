export * from './site.js';
export * from './telemetry.js';
export * from './complaint.js';
export * from './modbus-registers.js';
