export { Beat, type BeatOptions, type BeatEvents } from './beat';
export { Schedules, type ScheduleListing, type EntrySource, type AddEntryOptions } from './schedules';
export { Scheduler, fireTaskId, type Fire, type TickResult, type SchedulerOptions, type SchedulerState } from './scheduler';
export { nextFireAfter, nextFires } from './schedule';
export { LeaderLock, DEFAULT_LOCK_QUEUE, type LockConnection } from './leader-lock';
export { describeSchedule, scheduleEntryToInput, type ScheduleEntryInput } from './entry-input';
export { createScheduleStore, DEFAULT_STATE_FILE, type ScheduleStore } from './stores';
