export { WorkerMetrics, type WorkerMetricsOptions } from './worker-metrics';
