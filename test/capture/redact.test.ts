/**
 * Redaction of captured request targets: query values masked (names kept),
 * userinfo masked, fragments dropped, user patterns applied to the path only.
 */
import t from 'tap';
import { compileRedactPatterns, redactPath, redactTarget } from '../../src/capture/redact';

t.test('query values are masked, names kept', async (t) => {
  const none: RegExp[] = [];
  t.equal(redactTarget('/reset-password?email=a@b.example&token=s3cr3t', none), '/reset-password?email=*&token=*');
  t.equal(redactTarget('/search?q=&flag&x=1=2', none), '/search?q=&flag&x=*', 'empty values and bare names stay; everything after the first = is the value');
  t.equal(redactTarget('/a?', none), '/a?');
  t.equal(redactTarget('/plain/path', none), '/plain/path');
  t.equal(redactTarget('/page#section?x=1', none), '/page', 'a fragment is dropped, with anything that looks like a query inside it');
  t.equal(redactTarget('/p?x=1#frag', none), '/p?x=*');
  t.equal(redactTarget('', none), '');
  t.equal(redactTarget('*', none), '*', 'OPTIONS * stays');
});

t.test('absolute targets: userinfo masked, host kept', async (t) => {
  t.equal(redactTarget('http://user:pass@proxy.example:3128/x?k=v', []), 'http://*@proxy.example:3128/x?k=*');
  t.equal(redactTarget('https://api.example/v1?key=abc', []), 'https://api.example/v1?key=*');
  t.equal(redactTarget('http://host/a@b', []), 'http://host/a@b', 'an @ in the path is not userinfo');
});

t.test('user patterns: every match in the path becomes {redacted}; the query is masked, not matched', async (t) => {
  const patterns = compileRedactPatterns(['/invite/[^/?]+', '[0-9a-f]{32}']);
  t.equal(redactPath('/invite/abc/accept', patterns), '{redacted}/accept');
  t.equal(redactTarget('/files/0123456789abcdef0123456789abcdef/and/fedcba9876543210fedcba9876543210?sig=0123456789abcdef0123456789abcdef', patterns), '/files/{redacted}/and/{redacted}?sig=*');
  t.equal(redactTarget('/invite/xyz?ref=mail', patterns), '{redacted}?ref=*');
  t.equal(redactPath('/nothing/here', patterns), '/nothing/here');
});

t.test('a pattern that is not a regular expression is refused, named', async (t) => {
  t.throws(() => compileRedactPatterns(['ok', '(unclosed']), { message: 'redact pattern "(unclosed": Invalid regular expression: /(unclosed/g: Unterminated group' });
  t.same(compileRedactPatterns([]), []);
});
