export * from './site.js';
export * from './telemetry.js';
export * from './complaint.js';
export * from './modbus-registers.js';
export * from './connector-settings.js';
export * from './scenario.js';
export * from './config-text.js';
export * from './geometry.js';
