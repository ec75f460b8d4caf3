/**
 * Message templates of alert rules (description, annotations):
 * {value}, {threshold}, {name}, {metric}, anomaly rules' {baseline}, {lower},
 * {upper}, and any label of the alert ({service}, {route}, {severity}, ...).
 * Unknown placeholders stay as written, so a typo shows in the message.
 */
import type { AlertRule, Baseline } from './types';

export interface TemplateContext {
  value: number;
  threshold: number;
  name: string;
  metric: string;
  labels: Record<string, string>;
  baseline?: Baseline;
}

/** Compact: integers as they are, three decimals from 1 up, three significant digits below 1 (0.0123); no exponent between 1e-6 and 1e21. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 1) return String(Number(v.toFixed(3)));
  return String(Number(v.toPrecision(3)));
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function render(template: string, ctx: TemplateContext): string {
  return template.replace(PLACEHOLDER, (whole, key: string) => {
    switch (key) {
      case 'value':
        return formatValue(ctx.value);
      case 'threshold':
        return formatValue(ctx.threshold);
      case 'name':
        return ctx.name;
      case 'metric':
        return ctx.metric;
      case 'baseline':
      case 'lower':
      case 'upper':
        if (ctx.baseline) return formatValue(key === 'baseline' ? ctx.baseline.mean : ctx.baseline[key]);
        return whole;
    }
    return Object.prototype.hasOwnProperty.call(ctx.labels, key) ? ctx.labels[key] : whole;
  });
}

export const CONDITION_SYMBOL = { gt: '>', lt: '<', eq: '==', ne: '!=', gte: '>=', lte: '<=' } as const;

/**
 * The description of a rule that has none (neither `description` nor
 * annotations.description): the metric, the value, the condition and the group.
 */
export function defaultDescription(rule: Pick<AlertRule, 'alertType' | 'condition' | 'groupBy' | 'threshold'>): string {
  const group = rule.groupBy.length > 0 ? ` (${rule.groupBy.map((l) => `${l} {${l}}`).join(', ')})` : '';
  if (rule.alertType === 'anomaly') {
    const guard = rule.threshold !== 0 ? ` and ${CONDITION_SYMBOL[rule.condition]} {threshold}` : '';
    return `{metric} is {value}, outside its baseline {baseline} ({lower} to {upper})${guard}${group}`;
  }
  return `{metric} is {value} (${CONDITION_SYMBOL[rule.condition]} {threshold})${group}`;
}

/** The rule's description template: its own, else annotations.description, else the default. */
export function descriptionTemplate(rule: AlertRule): string {
  return rule.description || rule.annotations.description || defaultDescription(rule);
}

/** The default summary (annotations.summary overrides it). */
export const DEFAULT_SUMMARY = '{name}: {metric} is {value}';
