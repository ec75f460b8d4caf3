/**
 * The label values the HTTP and network families end with (families.ts): the
 * workload's (src/metadata/workload.ts) and, HTTP only, server_address. Tests
 * that build label arrays by hand append these: a process outside Kubernetes
 * with no named peer.
 */
import { WORKLOAD_LABELS } from '../../src/metadata/workload';

/** HTTP families: WORKLOAD_LABELS, then server_address, all empty. */
export const NO_HTTP_IDENTITY: readonly string[] = [...WORKLOAD_LABELS.map(() => ''), ''];
/** Network families: WORKLOAD_LABELS, empty. */
export const NO_WORKLOAD: readonly string[] = WORKLOAD_LABELS.map(() => '');
