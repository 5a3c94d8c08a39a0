export { WarrenError } from './warren-error';
export * from './catalogue';
