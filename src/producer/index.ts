export { Producer, type SendTaskOptions, type TaskPublication, type PublishedTask } from './producer';
export { DelayedDelivery } from './delayed-delivery';
