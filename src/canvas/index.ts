// The order matters: each complex kind registers itself for signatureFromDict when loaded.
export { Signature, signatureFromDict, toDict, wireOptions, type AnySignature, type ApplyArgs, type FreezeArgs, type SignatureOptions, type SubtaskType } from './signature';
export { Group } from './group';
export { Chord } from './chord';
export { Chain } from './chain';
export { chordSize } from './chord-size';
export { asTuple, type CanvasRuntime, type ClientRuntime, type Frozen, type FrozenGroup, type FrozenTask, type OutgoingTask, type WireOptions } from './canvas-runtime';
export { prepareApply } from './apply';
export { WorkerWorkflow, type WorkerWorkflowDeps } from './worker-workflow';
export type { ChordCount, ChordCounter, ChordPart } from './chord-counter';
