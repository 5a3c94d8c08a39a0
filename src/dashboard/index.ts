export { Dashboard, type DashboardOptions, type DashboardSnapshot, type WorkerRow, type QueueRow, type ScheduleRow } from './dashboard';
export { DashboardServer, type DashboardServerOptions, type DashboardBackend } from './server';
export { TaskHistory, type TaskRecord, type TaskFilter, type TaskHistoryOptions, type TaskNameStats, type TaskStateName } from './task-history';
export { DepthSeries, type DepthPoint } from './depth-series';
export { escapeHtml, renderTemplate } from './escape';
export { guardRequest, basicAuthMatches, parseCredentials, readCredentialsFile, isLoopback, loopbackHosts, newCsrfToken, type Credentials, type GuardVerdict } from './auth';
