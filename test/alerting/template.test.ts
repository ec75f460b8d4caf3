/** Message templates: placeholders, compact numbers, unknown placeholders kept, the default description. */
import t from 'tap';
import { defaultDescription, descriptionTemplate, formatValue, render } from '../../src/alerting/template';
import { ruleFromApi } from '../../src/alerting/rule-input';

t.test('numbers are compact', async (t) => {
  const cases: [number, string][] = [
    [0, '0'],
    [12, '12'],
    [-3, '-3'],
    [12.34567, '12.346'],
    [1234567.891, '1234567.891'],
    [0.5, '0.5'],
    [0.0123456, '0.0123'],
    [0.000123456, '0.000123'],
    [1 / 3, '0.333'],
    [2 / 3 + 1, '1.667'],
    [NaN, 'NaN'],
  ];
  for (const [v, s] of cases) t.equal(formatValue(v), s, String(v));
});

t.test('placeholders', async (t) => {
  const ctx = { value: 12.5, threshold: 10, name: 'high_error_rate', metric: 'http_errors_total_rate', labels: { service: 'api:8080', team: 'backend' } };
  t.equal(render('{name}: {metric} {value} > {threshold} on {service} ({team})', ctx), 'high_error_rate: http_errors_total_rate 12.5 > 10 on api:8080 (backend)');
  t.equal(render('{value}{value} {unknown} {route} {} {1x}', ctx), '12.512.5 {unknown} {route} {} {1x}', 'unknown placeholders stay');
  t.equal(render('{baseline} {lower}-{upper}', { ...ctx, baseline: { mean: 3.14159, deviation: 1, lower: 0.14159, upper: 6.14159, samples: 20 } }), '3.142 0.142-6.142');
  t.equal(render('{baseline}', ctx), '{baseline}', 'no baseline: kept');
});

t.test('default descriptions', async (t) => {
  const rule = ruleFromApi({ name: 'x', metric_name: 'http_errors_total_rate', condition: '>', threshold: 1 }, { id: 'alert_1', now: 0 });
  t.equal(defaultDescription(rule), '{metric} is {value} (> {threshold}) (service {service})');
  t.equal(descriptionTemplate(rule), defaultDescription(rule));
  t.equal(descriptionTemplate({ ...rule, annotations: { description: 'from annotations' } }), 'from annotations');
  t.equal(descriptionTemplate({ ...rule, description: 'own', annotations: { description: 'from annotations' } }), 'own');
  t.equal(defaultDescription({ ...rule, alertType: 'anomaly', threshold: 0, groupBy: ['service', 'route'] }), '{metric} is {value}, outside its baseline {baseline} ({lower} to {upper}) (service {service}, route {route})');
  t.equal(defaultDescription({ ...rule, alertType: 'anomaly', threshold: 5, groupBy: [] }), '{metric} is {value}, outside its baseline {baseline} ({lower} to {upper}) and > {threshold}');
});
