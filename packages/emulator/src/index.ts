/**
 * `@ccs-xmpp/emulator`: a local Google Cloud Connection Server (CCS) for tests, demos and
 * benchmarks, built on this project's stream, SASL and stanza layers from the server's side.
 * @packageDocumentation
 */
export {
  CcsEmulator, type CcsEmulatorOptions, type SenderAccount, type ConnectionInfo, type DeviceInfo, type EmulatorStatus, type UpstreamInput,
} from './emulator.js';
export { EmulatorError, type EmulatorErrorCode } from './errors.js';
export type { Faults } from './faults.js';
export type { EmulatorEvent, CcsEmulatorEvents } from './hub.js';
export type { LedgerTotals, Delivery } from './ledger.js';
export type { DeviceSpec, DeviceState } from './registry.js';
export { parseCondition } from './registry.js';
export { runCommand, parseCommandLine, type CommandIo, type CommandLine } from './command.js';
export { Prng } from './prng.js';
export type { DevicePresence, DeviceSchedule, DeviceTotals, FateRecord, MessageFate, ScriptedTransition } from './device-model.js';
export type { Devices } from './devices.js';
export type { FlowControlStats } from './flow-control.js';
